-- Empty on purpose: a write transaction's first statement deletes nothing
-- from it, which takes SQLite's write lock before anything is read (a
-- transaction that reads first and writes later can fail with
-- SQLITE_BUSY_SNAPSHOT when another connection wrote in between).
CREATE TABLE compute_write_lock (id BIGINT PRIMARY KEY);
