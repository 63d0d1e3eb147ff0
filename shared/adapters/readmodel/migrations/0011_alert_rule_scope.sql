-- Alert rules belong to their user in every sense.
--
-- 1. A rule used to be accepted on any portfolio ID, and its firings carried
--    that portfolio's figures to the rule's author. Such rules, and the firings
--    they recorded, are removed: the history would show another user's figures.
--    (The API now refuses them, and the evaluation joins a rule only to its own
--    user's portfolios.)
-- 2. Rule IDs were global, so one user's choice of ID could collide with, or
--    probe, another's. The stored ID is now '<user ID>:<the user's ID>'
--    (alerts.ScopedID); the API shows and takes the user's part only. Firing keys
--    ('<rule ID>#<epoch>') follow.

delete from public.alert_history h
 using public.portfolios p
 where h.portfolio_id <> '' and p.id = h.portfolio_id and p.user_id <> h.user_id;

delete from public.alert_rules r
 using public.portfolios p
 where r.portfolio_id <> '' and p.id = r.portfolio_id and p.user_id <> r.user_id;

update public.alert_rules
   set id = user_id::text || ':' || id,
       definition = jsonb_set(definition, '{id}', to_jsonb(user_id::text || ':' || id))
 where left(id, 37) <> user_id::text || ':';

update public.alert_history
   set rule_id = user_id::text || ':' || rule_id,
       firing_key = user_id::text || ':' || firing_key
 where left(rule_id, 37) <> user_id::text || ':';
