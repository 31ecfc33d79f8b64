// Package e2e tests the tailor binary from the outside, the way its users meet
// it: it builds ./cmd/tailor once, runs `tailor serve` on 127.0.0.1:0 with a
// fresh data directory, and drives it with the real Segment SDKs (analytics-go,
// analytics-node, analytics.js in a headless Chromium), raw HTTP, the import
// and demo commands, and SIGKILL.
//
// The tests only rely on what docs/API.md promises: the stdout lines of
// `tailor serve`, /readyz, the tracking API and the admin API.
//
// Environment:
//   - TAILOR_E2E_REQUIRE=1 turns a missing prerequisite (node, the npm
//     packages of test/sdk, chromium) into a failure instead of a skip, so CI
//     never counts a skipped test as passing. scripts/test.sh sets it.
//   - TAILOR_E2E_BIN=PATH tests a prebuilt binary instead of building one
//     (for example one built with -race).
//   - TAILOR_E2E_CHROMIUM=PATH overrides /usr/bin/chromium.
//   - TAILOR_E2E_MAILPIT=PATH is a prebuilt Mailpit, the real SMTP server
//     of the TestDeliver* tests; without it they build one from
//     tools/mailpit with go build (once per go.sum, kept in the temporary
//     directory). scripts/test.sh builds it first.
package e2e
