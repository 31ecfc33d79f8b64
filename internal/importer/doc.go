// Package importer loads customer, event and product files into a running
// Tailor server over its public HTTP API, so that every rule the server applies
// to live traffic applies to imported data too.
//
// A Reader turns one file into records — the line a row starts on and the JSON
// object to send for it — and reports bad rows by line without stopping. A
// Sender posts records in batches, retries what is worth retrying, and maps
// the server's per-message rejections back to file lines. Run ties them to a
// file, a progress display and a summary.
//
// Re-running an import within the server's de-duplication window (its
// --dedupe-window, 7 days by default) is safe: every message carries a
// messageId, its own or, when it has none, one derived from the file name,
// the line and the row's content, and the server drops messageIds it has
// seen within the window. Products are upserted by id, so they are safe to
// re-import at any time.
package importer
