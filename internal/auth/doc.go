// Package auth owns the dashboard's accounts: users with an email, an
// argon2id password hash and a role (admin, editor, viewer), their login
// sessions and CSRF tokens, login rate limiting, and the guard in front of
// /api that admits either the admin bearer token or a session cookie with a
// role high enough for the route (roles.go holds the one route table).
//
// Its state lives under the store prefix au/ and nowhere else:
//
//	au/u/<email>            account (JSON: email, role, hash, created)
//	au/s/<hex sha256(id)>   session (JSON: email, created, seen)
//	au/k/csrf               the server secret CSRF tokens are derived from
//
// What must stay true: a session id never reaches the store, only its hash,
// so a copy of the data directory does not let anyone sign in; a password
// never reaches the store or the log; and a role is read from the account on
// every request, so removing an account or its sessions takes effect at once.
package auth
