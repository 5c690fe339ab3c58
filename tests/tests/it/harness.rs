//! The harness itself: isolation of test databases and the AWS API server.

use std::io::{Read, Write};

use etl_tests::{Moto, TestDatabase, server};

use crate::support::scalar;

#[tokio::test]
async fn a_test_database_is_created_empty_and_dropped_afterwards() {
    let name = {
        let db = TestDatabase::create("isolation").await;
        let client = db.connect().await;
        let tables: i64 = scalar(
            &client,
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .await;
        assert_eq!(tables, 0);
        db.name.clone()
    };
    let admin = etl_tests::postgres::connect(server().admin_url()).await;
    let left: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "database {name} was not dropped");
}

#[test]
fn moto_server_answers_s3_requests() {
    let moto = Moto::start();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", moto.port)).unwrap();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: s3.amazonaws.com\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("ListAllMyBucketsResult"), "{response}");
}
