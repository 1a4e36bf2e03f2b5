-- Raw PostgreSQL peer of a gap-allowed registration: an INSERT taking a sequence value.
INSERT INTO bench_code (value, payload) VALUES (nextval('bench_code_seq'), 'customer');
