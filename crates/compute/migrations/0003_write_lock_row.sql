-- One row in the write-lock table: every compute write transaction updates it
-- first. On SQLite that takes the database's write lock (as 0002's empty delete
-- did), and on PostgreSQL it takes this row's lock until commit, so the quota
-- checks and capacity counts of concurrent transactions (on any node) run one
-- after another and never overshoot.
INSERT INTO compute_write_lock (id) VALUES (1);
