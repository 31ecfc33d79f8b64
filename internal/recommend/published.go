package recommend

// Published is the evaluation table of docs/recommendations.md, served to
// the dashboard (GET /api/recommendations/evaluation). Re-run the commands
// in Command and update both together.
var Published = []PublishedRun{
	{
		Name:    "Demo store, 20,000 customers, seed 1 (521 test users)",
		Command: "tailor eval recommend --demo 20000",
		Columns: []string{"Recall@10", "Recall@20", "NDCG@10", "NDCG@20", "MAP@10", "MAP@20", "coverage", "pop. bias"},
		Rows: []PublishedRow{
			{"for_you", []float64{0.4323, 0.5066, 0.3411, 0.3653, 0.2718, 0.2802, 0.848, 6.10}},
			{"buy_again", []float64{0.2759, 0.2807, 0.2281, 0.2298, 0.1855, 0.1861, 0.660, 3.94}},
			{"recently_viewed", []float64{0.2116, 0.2326, 0.1811, 0.1882, 0.1524, 0.1546, 0.932, 3.30}},
			{"bestsellers", []float64{0.1870, 0.2832, 0.1451, 0.1752, 0.1044, 0.1138, 0.037, 7.14}},
			{"trending", []float64{0.1648, 0.2557, 0.1357, 0.1640, 0.1004, 0.1089, 0.038, 6.56}},
			{"baseline: most popular", []float64{0.1991, 0.2760, 0.1504, 0.1755, 0.1075, 0.1159, 0.033, 7.25}},
			{"baseline: item-KNN", []float64{0.3167, 0.4100, 0.1938, 0.2233, 0.1272, 0.1375, 0.905, 4.31}},
		},
	},
	{
		Name:    "Ta-Feng next-basket, all 13,858 users",
		Command: "tailor eval recommend --tafeng DIR",
		Columns: []string{"Recall@10", "Recall@20", "NDCG@10", "NDCG@20", "PHR@10", "PHR@20", "coverage"},
		Rows: []PublishedRow{
			{"G-TopFreq", []float64{0.0803, 0.1071, 0.0842, 0.0937, 0.2489, 0.3284, 0.002}},
			{"P-TopFreq", []float64{0.1062, 0.1392, 0.0953, 0.1095, 0.3513, 0.4347, 0.988}},
			{"GP-TopFreq (baseline)", []float64{0.1195, 0.1684, 0.1007, 0.1202, 0.3721, 0.4846, 0.988}},
			{"Tailor for_you", []float64{0.1396, 0.1895, 0.1187, 0.1389, 0.4197, 0.5244, 0.998}},
		},
	},
}

// PublishedRun is one evaluation table.
type PublishedRun struct {
	Name    string         `json:"name"`
	Command string         `json:"command"`
	Columns []string       `json:"columns"`
	Rows    []PublishedRow `json:"rows"`
}

// PublishedRow is one strategy's figures, in Columns order.
type PublishedRow struct {
	Strategy string    `json:"strategy"`
	Values   []float64 `json:"values"`
}
