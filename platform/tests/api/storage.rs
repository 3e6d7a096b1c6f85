//! File storage against a real S3 peer (moto): what the S3 backend writes, reads and deletes,
//! tenant separation, and start-up refusing a bucket that does not answer.

use lms_platform::config::S3Config;
use lms_platform::startup::Application;
use lms_platform::storage::{ObjectKey, Storage};
use uuid::Uuid;

use crate::helpers::{TestApp, TestDb, test_config};
use crate::s3_peer::MotoServer;

async fn moto_with_bucket(bucket: &str) -> MotoServer {
    let moto = MotoServer::start();
    moto.create_bucket(bucket).await;
    moto
}

#[tokio::test]
async fn s3_put_get_delete_round_trip() {
    let moto = moto_with_bucket("lms-files").await;
    let storage = Storage::s3(&moto.s3_config("lms-files"))
        .await
        .expect("the bucket answers");
    assert_eq!(storage.backend_name(), "s3");
    let tenant = Uuid::now_v7();
    let key = ObjectKey::for_tenant(tenant, &["submissions", "essay.pdf"]).expect("key");
    let content = b"%PDF-1.7 not really".to_vec();

    storage
        .put(&key, content.clone(), "application/pdf")
        .await
        .expect("put");
    assert_eq!(storage.get(&key).await.expect("get"), Some(content.clone()));

    // The object is where the key says, with the content type given.
    let raw = moto.get_object("lms-files", key.as_str()).await;
    assert_eq!(raw.status(), reqwest::StatusCode::OK);
    assert_eq!(
        raw.headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    assert_eq!(
        raw.bytes().await.expect("body").as_ref(),
        content.as_slice()
    );

    storage
        .put(&key, b"second version".to_vec(), "application/pdf")
        .await
        .expect("overwrite");
    assert_eq!(
        storage.get(&key).await.expect("get").as_deref(),
        Some(&b"second version"[..])
    );

    storage.delete(&key).await.expect("delete");
    assert_eq!(storage.get(&key).await.expect("get after delete"), None);
    storage.delete(&key).await.expect("deleting what is gone");
}

#[tokio::test]
async fn s3_missing_key_is_none() {
    let moto = moto_with_bucket("lms-empty").await;
    let storage = Storage::s3(&moto.s3_config("lms-empty"))
        .await
        .expect("the bucket answers");
    let key = ObjectKey::for_tenant(Uuid::now_v7(), &["never", "stored.txt"]).expect("key");
    assert_eq!(storage.get(&key).await.expect("get"), None);
}

#[tokio::test]
async fn s3_keys_of_two_tenants_never_collide() {
    let moto = moto_with_bucket("lms-shared").await;
    let storage = Storage::s3(&moto.s3_config("lms-shared"))
        .await
        .expect("the bucket answers");
    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    let parts = ["submissions", "report.txt"];
    let first_key = ObjectKey::for_tenant(first, &parts).expect("key");
    let second_key = ObjectKey::for_tenant(second, &parts).expect("key");
    assert_ne!(first_key, second_key);

    storage
        .put(&first_key, b"first tenant".to_vec(), "text/plain")
        .await
        .expect("put");
    storage
        .put(&second_key, b"second tenant".to_vec(), "text/plain")
        .await
        .expect("put");
    assert_eq!(
        storage.get(&first_key).await.expect("get").as_deref(),
        Some(&b"first tenant"[..])
    );
    assert_eq!(
        storage.get(&second_key).await.expect("get").as_deref(),
        Some(&b"second tenant"[..])
    );

    storage.delete(&first_key).await.expect("delete");
    assert_eq!(storage.get(&first_key).await.expect("get"), None);
    assert_eq!(
        storage.get(&second_key).await.expect("get").as_deref(),
        Some(&b"second tenant"[..]),
        "deleting one tenant's object left the other's"
    );
}

#[tokio::test]
async fn s3_prefix_is_prepended_to_every_key() {
    let moto = moto_with_bucket("lms-prefixed").await;
    let mut config = moto.s3_config("lms-prefixed");
    config.prefix = Some("/staging/files/".to_owned());
    let storage = Storage::s3(&config).await.expect("the bucket answers");
    let key = ObjectKey::for_tenant(Uuid::now_v7(), &["a.txt"]).expect("key");
    storage
        .put(&key, b"prefixed".to_vec(), "text/plain")
        .await
        .expect("put");

    let raw = moto
        .get_object("lms-prefixed", &format!("staging/files/{key}"))
        .await;
    assert_eq!(raw.status(), reqwest::StatusCode::OK);
    assert_eq!(raw.bytes().await.expect("body").as_ref(), b"prefixed");
    let unprefixed = moto.get_object("lms-prefixed", key.as_str()).await;
    assert_eq!(unprefixed.status(), reqwest::StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn s3_missing_bucket_fails_at_start_up() {
    let moto = MotoServer::start();
    let err = match Storage::s3(&moto.s3_config("no-such-bucket")).await {
        Ok(_) => panic!("a missing bucket was accepted"),
        Err(err) => format!("{err:#}"),
    };
    assert!(err.contains("no-such-bucket"), "{err}");
    assert!(err.contains("does not exist"), "{err}");
    assert!(err.contains(&moto.endpoint), "{err}");
}

#[tokio::test]
async fn s3_unreachable_endpoint_fails_at_start_up() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("pick a free port")
        .port();
    let config = S3Config {
        bucket: "lms-files".to_owned(),
        region: "us-east-1".to_owned(),
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        access_key_id: None,
        secret_access_key: None,
        path_style: true,
        prefix: None,
    };
    let err = match Storage::s3(&config).await {
        Ok(_) => panic!("an endpoint that does not answer was accepted"),
        Err(err) => format!("{err:#}"),
    };
    assert!(err.contains("lms-files"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
}

#[tokio::test]
async fn server_stores_files_in_s3_when_configured() {
    let moto = moto_with_bucket("lms-app").await;
    let config = moto.s3_config("lms-app");
    let key = ObjectKey::for_tenant(Uuid::now_v7(), &["wired.txt"]).expect("key");
    let stored = key.clone();
    TestApp::spawn_seeded(
        move |c| c.storage.s3 = Some(config),
        move |state| async move {
            assert_eq!(state.storage.backend_name(), "s3");
            state
                .storage
                .put(&stored, b"through the app".to_vec(), "text/plain")
                .await
                .expect("put through the app's storage");
        },
    )
    .await;
    let raw = moto.get_object("lms-app", key.as_str()).await;
    assert_eq!(
        raw.bytes().await.expect("body").as_ref(),
        b"through the app"
    );
}

#[tokio::test]
async fn server_refuses_to_start_with_a_missing_bucket() {
    let moto = MotoServer::start();
    let db = TestDb::create().await;
    let mut config = test_config(&db);
    config.storage.s3 = Some(moto.s3_config("not-created"));
    let err = match Application::build(config).await {
        Ok(_) => panic!("the server started without its bucket"),
        Err(err) => format!("{err:#}"),
    };
    assert!(err.contains("file storage"), "{err}");
    assert!(err.contains("not-created"), "{err}");
}

#[tokio::test]
async fn server_stores_files_on_local_disk_by_default() {
    let mut root = None;
    let key = ObjectKey::for_tenant(Uuid::now_v7(), &["local.txt"]).expect("key");
    let stored = key.clone();
    let app = TestApp::spawn_seeded(
        |c| root = Some(c.data_dir.join("files")),
        move |state| async move {
            assert_eq!(state.storage.backend_name(), "local");
            state
                .storage
                .put(&stored, b"on disk".to_vec(), "text/plain")
                .await
                .expect("put");
        },
    )
    .await;
    let root = root.expect("config adjusted");
    assert_eq!(
        std::fs::read(root.join(key.as_str())).expect("file under <data_dir>/files"),
        b"on disk"
    );
    drop(app);
    std::fs::remove_dir_all(&root).ok();
}
