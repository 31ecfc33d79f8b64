package store

// Key prefixes. Every key in the store starts with exactly one of these, and
// each prefix belongs to one package, which alone reads and writes it: that
// is what lets a package keep its own invariants about its keys. A new
// keyspace is a new line here and in Keyspaces (TestKeyspaces checks that
// no prefix is a prefix of another, so no range scan reads a neighbour's
// keys).
const (
	PrefixConfig     = "cfg/" // server: settings (write key, admin token, partitions)
	PrefixSource     = "src/" // ingest: sources and their write keys
	PrefixLog        = "l/"   // eventlog: <partition:2><seq:8> -> stored message
	PrefixLogDict    = "ld/"  // eventlog: <id:8> -> S2 dictionary the log's values are compressed with
	PrefixTimeline   = "t/"   // eventlog: <identifier>\x00<ts:8><seq:8> -> <partition:2>
	PrefixDedupe     = "d/"   // eventlog: <source>\x00<messageId> -> receive day
	PrefixDedupeSize = "dn/"  // eventlog: dn/ -> <d/ keys the last full scan kept><the log's last seq when it began> (uvarints)
	PrefixCheckpoint = "k/"   // processor: k/applied -> <seq:8>
	PrefixProfile    = "p/"   // profile: <profile id> -> profile record
	PrefixRedirect   = "x/"   // profile: <merged-away id> -> surviving id
	PrefixMerge      = "m/"   // profile: <seq:8> -> merge record (JSON); the old format, moved to mi/ at start
	PrefixMergeInto  = "mi/"  // profile: <into id>\x00<seq:8><from id> -> merge record (JSON)
	PrefixCatalog    = "c/"   // catalog: <product id> -> product (JSON)
	PrefixRejected   = "r/"   // ingest: <unix nanos:8><counter:4> -> rejected event (JSON)
	PrefixSegment    = "sg/"  // segment: <segment id> -> definition (JSON)
	PrefixMembers    = "sm/"  // segment: <segment id> -> members (roaring bitmap of profile ordinals)
	PrefixOrdinals   = "so/"  // segment: <first ordinal:4> -> profile ids of a block of ordinals
	PrefixHistory    = "sh/"  // segment: <segment id>\x00<day:4> -> size and changes that day (JSON)
	PrefixIndex      = "si/"  // segment: the index's event columns (persist.go)
	PrefixAuth       = "au/"  // auth: u/<email> -> account, s/<sha256 of session id> -> session, k/csrf -> secret
	PrefixStats      = "ts/"  // stats: <range> -> the range's points (JSON)
	PrefixTemplate   = "mt/"  // message: templates (h/<id> head, v/<id>\x00<ver:8> versions), the link secret
	PrefixCoupon     = "cp/"  // coupon: pools, codes and claims per send key
	PrefixConsent    = "cn/"  // consent: <profile id> -> consent state (JSON)
	// journey: <journey>\x00v<version:4> -> definition, <journey>\x00s -> figures
	PrefixJourney      = "jd/"
	PrefixJourneyRun   = "jp/" // journey: <profile>\x00<journey> -> the profile's run
	PrefixJourneyTimer = "jt/" // journey: <due:4><profile>\x00<journey> -> pending timer
	PrefixJourneyFirst = "ju/" // journey: <journey>\x00<o|c><message key> -> nothing (the message's first open or click was counted)
	PrefixOutboxDue    = "ob/" // outbox: <due unix nanos:8><key> -> state byte (queued or sending)
	PrefixOutboxItem   = "oi/" // outbox: <key> -> message record (JSON); a key seen once stays
	PrefixOutboxProf   = "op/" // outbox: <profile>\x00<created unix nanos:8><key> -> nothing (history index)
	PrefixCapCounter   = "oc/" // deliver: <profile>\x00<channel>\x00<day:4> -> sends counted that UTC day
	PrefixInbox        = "ib/" // deliver: <profile>\x00<inbox id> -> in-app message (JSON)
	PrefixExperiment   = "ex/" // experiment: d/<id> -> definition (JSON), u/<id>\x00<profile> -> exposed unit (JSON)
	// decide: p/<placement id> -> placement (JSON), geo -> geo table (JSON),
	// secret -> token signing key, s/<placement id>\x00<day:4> -> counts that day,
	// c/<profile id> -> the profile's last click on a placement
	PrefixDecide    = "dc/"
	PrefixPredict   = "pd/" // segment: params -> the last prediction fit (JSON), read back at start
	PrefixRecommend = "rc/" // recommend: i/<product>, p/<profile>, c/<category>, g -> model records (JSON)
)

// Keyspace describes one prefix and its owner.
type Keyspace struct {
	Prefix string
	Owner  string // the package that reads and writes it
}

// Keyspaces lists every prefix with its owner.
var Keyspaces = []Keyspace{
	{PrefixConfig, "server"},
	{PrefixSource, "ingest"},
	{PrefixLog, "eventlog"},
	{PrefixLogDict, "eventlog"},
	{PrefixTimeline, "eventlog"},
	{PrefixDedupe, "eventlog"},
	{PrefixDedupeSize, "eventlog"},
	{PrefixCheckpoint, "processor"},
	{PrefixProfile, "profile"},
	{PrefixRedirect, "profile"},
	{PrefixMerge, "profile"},
	{PrefixMergeInto, "profile"},
	{PrefixCatalog, "catalog"},
	{PrefixRejected, "ingest"},
	{PrefixSegment, "segment"},
	{PrefixMembers, "segment"},
	{PrefixOrdinals, "segment"},
	{PrefixHistory, "segment"},
	{PrefixIndex, "segment"},
	{PrefixAuth, "auth"},
	{PrefixStats, "stats"},
	{PrefixTemplate, "message"},
	{PrefixCoupon, "coupon"},
	{PrefixConsent, "consent"},
	{PrefixJourney, "journey"},
	{PrefixJourneyRun, "journey"},
	{PrefixJourneyTimer, "journey"},
	{PrefixJourneyFirst, "journey"},
	{PrefixOutboxDue, "outbox"},
	{PrefixOutboxItem, "outbox"},
	{PrefixOutboxProf, "outbox"},
	{PrefixCapCounter, "deliver"},
	{PrefixInbox, "deliver"},
	{PrefixExperiment, "experiment"},
	{PrefixDecide, "decide"},
	{PrefixPredict, "segment"},
	{PrefixRecommend, "recommend"},
}

// Key returns prefix+suffix as a new byte slice.
func Key(prefix, suffix string) []byte {
	k := make([]byte, 0, len(prefix)+len(suffix))
	return append(append(k, prefix...), suffix...)
}

// UpperBound returns the smallest key greater than every key that starts
// with prefix: the exclusive upper bound of the prefix's range scan.
func UpperBound(prefix string) []byte {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return b[:i+1]
		}
	}
	return nil // every byte is 0xff: no upper bound
}
