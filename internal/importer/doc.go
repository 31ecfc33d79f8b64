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
// Re-running an import is safe: every message carries a messageId derived
// from the file name, the line and the row's content, and the server
// de-duplicates on it; products are upserted by id.
package importer
