DROP TABLE IF EXISTS bench_code, bench_counter;
DROP SEQUENCE IF EXISTS bench_code_seq;
CREATE SEQUENCE bench_code_seq;
CREATE TABLE bench_code (value bigint PRIMARY KEY, payload text NOT NULL);
CREATE TABLE bench_counter (name text PRIMARY KEY, next_value bigint NOT NULL);
INSERT INTO bench_counter VALUES ('c', 1);
