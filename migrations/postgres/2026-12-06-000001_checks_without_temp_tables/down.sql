-- Nothing changes on PostgreSQL (kept in step with migrations/sqlite, where
-- this version rewrites CHECK constraints with IN lists as OR chains):
-- PostgreSQL evaluates an IN list of constants without temporary tables.
SELECT 1;
