// Package experiment owns experiments: their definitions, assignment of
// units to variants (Assign), the per-unit record of exposures and goal
// metrics fed from the event log (Engine, a processor Applier), and the
// results (Results) computed with package stats.
//
// One engine serves every place variants exist: message content and
// subject lines, journey branches, decision-API placements, and holdouts.
// Whatever shows a variant logs an exposure ("Experiment Viewed" with
// experiment_id and variant, the Segment spec's event); the engine counts
// a unit from its first exposure and attributes goal events that happen
// within the experiment's attribution window after it.
//
// Keys (prefix ex/, this package alone reads and writes them):
//
//	ex/d/<experiment id>              definition (JSON)
//	ex/u/<experiment id>\x00<profile> one exposed unit (JSON)
package experiment
