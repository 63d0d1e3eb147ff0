-- The user service, hardened (docs/architecture.md §11, "The user service").
--
-- The pending phone code is the API's alone. 0002 granted `authenticated`
-- select on the whole profiles table, and Supabase's Data API lets any
-- signed-in user act as authenticated: the code's hash, its expiry and the
-- guesses counted were readable by the user who asked for the code, for a
-- number they need not own. authenticated now reads every column but those;
-- tracker_api (the API, which compares the code) reads them too.
revoke select on table public.profiles from authenticated;
grant select (user_id, email, display_name, created_at, updated_at, time_zone, locale, base_currency, phone,
              phone_verified_at, email_confirmed_at, notification_preferences) on table public.profiles to authenticated;
grant select (phone_code_hash, phone_code_expires_at, phone_code_attempts) on table public.profiles to tracker_api;
