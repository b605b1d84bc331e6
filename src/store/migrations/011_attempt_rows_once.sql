-- An attempt's row is now written once, when the attempt ends (a running attempt is read from its
-- job's row), so it is never looked up by lease token. Rows of attempts that were running when the
-- old version stopped are dropped: the lease sweep writes them again as lease_expired.
DROP INDEX attempts_lease;
DELETE FROM attempts WHERE outcome IS NULL;
