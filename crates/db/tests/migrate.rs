//! Migrations: applied once, in order, on both backends; a `;` inside a
//! comment does not split a statement.

use rustack_db::{sqlx, testing, Migration};

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "one", sql: "-- a table; with a semicolon in this comment\nCREATE TABLE t_mig (id BIGINT PRIMARY KEY);\n-- only a comment; here\n" },
    Migration { version: 2, name: "two", sql: "INSERT INTO t_mig (id) VALUES (1);\nINSERT INTO t_mig (id) VALUES (2);" },
];

#[tokio::test]
async fn migrations_apply_once_and_comments_do_not_split_statements() {
    for t in testing::all_backends().await {
        assert_eq!(t.db.migrate("migtest", &MIGRATIONS[..1]).await.unwrap(), 1);
        assert_eq!(t.db.migrate("migtest", MIGRATIONS).await.unwrap(), 1, "only the new one runs");
        assert_eq!(t.db.migrate("migtest", MIGRATIONS).await.unwrap(), 0);
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t_mig").fetch_one(t.db.pool()).await.unwrap();
        assert_eq!(n, 2);
    }
}
