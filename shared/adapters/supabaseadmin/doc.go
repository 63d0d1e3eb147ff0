// Package supabaseadmin looks users up in Supabase Auth (GoTrue) with the
// service-role key: their e-mail and profile, for notifications and for the
// profile read model. It is the one place the Supabase platform API is used;
// data access stays on pgx (shared/adapters/readmodel).
//
// The application depends on the Directory port. Client implements it on top
// of supabase-go (github.com/supabase-community/supabase-go v0.0.4, whose Auth
// field is a github.com/supabase-community/gotrue-go v1.2.0 client):
//
//	GET /auth/v1/admin/users/{id}              Directory.User
//	GET /auth/v1/admin/users?page=&per_page=   Directory.Users
//	DELETE /auth/v1/admin/users/{id}           Client.DeleteUser (the erasure of a user)
//
// Every request carries the service-role key as "apikey" and as
// "Authorization: Bearer". supabase.NewClient only sends the apikey header to
// Auth, so the adapter adds the bearer with Auth.WithToken; admin routes answer
// 401 without it.
//
// What the adapter adds to the library, which has no context.Context, no typed
// errors and no pagination in this version: every request runs through a
// per-call http.RoundTripper that carries the caller's context and a
// per-request timeout (Config.Timeout, default 10 s), adds page/per_page to the
// list request, records the HTTP status, bounds the bytes read (error bodies
// to 64 KiB, successful ones to Config.MaxResponseBytes), and refuses
// redirects (Go would forward the custom apikey header to another host).
//
// Errors are *Error values matching one sentinel each (errors.Is):
//
//	ErrUserNotFound   404 from GET or DELETE /admin/users/{id}, or an ID that is not a UUID
//	ErrUnauthorized   401 or 403: the service-role key is wrong, or not the service role's
//	ErrUpstream       anything else: 5xx, 429, other statuses, malformed or oversized
//	                  JSON, transport failures and timeouts (these also match
//	                  context.DeadlineExceeded / context.Canceled)
//	ErrInvalidArgument  page/per_page out of range (no request made)
//	ErrServiceKey     the KeyFunc failed or gave "" (no request made; retried next call)
//
// No error text contains the service-role key: the key is replaced by
// "[redacted]" in everything the server says and in transport errors. The
// package never logs.
//
// The key is read lazily, on the first call, through a caller-supplied KeyFunc
// (ConfiguredKey: SUPABASE_SERVICE_ROLE_KEY where the local stack sets it, else
// shared/adapters/secrets.String with SUPABASE_SERVICE_ROLE_KEY_ARN); a failed
// read is retried by the next call.
//
// The local stack's Supabase Auth stand-in (shared/devtools/tokenissuer)
// serves these routes too; the tests run the Client against it.
//
// SyncProfile copies a user's e-mail and display name into a ProfileStore; see
// readmodel.Profiles for the Postgres store (adapted with ProfileStoreFunc).
package supabaseadmin
