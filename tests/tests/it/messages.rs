//! What failure texts (alerts, quarantine records, Lambda errors) may carry: positions, keys and
//! names, never a row's values.

use etl_adapters::error::chain;
use etl_tests::TestDatabase;

#[tokio::test]
async fn postgres_errors_keep_their_message_and_drop_the_row_values() {
    let db = TestDatabase::create("messages").await;
    let client = db.connect().await;
    client
        .batch_execute("CREATE TABLE payment (id int PRIMARY KEY, amount int CHECK (amount > 0))")
        .await
        .unwrap();
    let error = client
        .execute("INSERT INTO payment VALUES (1, -424242)", &[])
        .await
        .unwrap_err();
    // The server's own text quotes the row: what must not reach an inbox.
    assert!(format!("{error:?}").contains("-424242"));

    let text = chain(&error).join(": ");
    assert!(text.contains("violates check constraint"), "{text}");
    assert!(text.contains("SQLSTATE 23514"), "{text}");
    assert!(text.contains("table payment"), "{text}");
    assert!(!text.contains("424242"), "a value leaked: {text}");

    let wrapped = load::LoadError::Query {
        run_id: "20250101T000000000000Z".into(),
        step: "merging payment".into(),
        source: error,
    };
    let text = chain(&wrapped).join(": ");
    assert!(text.contains("while merging payment"), "{text}");
    assert!(!text.contains("424242"), "a value leaked: {text}");
}
