-- Raw PostgreSQL peer of a gapless registration: an INSERT taking a counter row locked
-- with SELECT ... FOR UPDATE, in one transaction.
BEGIN;
SELECT next_value AS v FROM bench_counter WHERE name = 'c' FOR UPDATE \gset
UPDATE bench_counter SET next_value = next_value + 1 WHERE name = 'c';
INSERT INTO bench_code (value, payload) VALUES (:v, 'customer');
END;
