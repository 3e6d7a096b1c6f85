//! The guarded outbound client against the attacks on it: private, loopback, link-local and
//! metadata addresses in every spelling, a name that resolves to loopback, plain http, redirects,
//! credentials in URLs, slow and oversized answers. A loopback receiver counts the connections
//! that reach it, so a refusal is shown to happen before any connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lms_platform::outbound::{AllowList, Limits, Outbound, OutboundError};
use reqwest::Method;
use reqwest::header::HeaderMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the receiver answers every request with.
#[derive(Clone, Copy)]
enum Reply {
    Ok,
    Redirect,
    Huge,
    Silent,
}

/// A loopback HTTP receiver; returns its port and the count of connections it accepted.
async fn receiver(reply: Reply) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut request = vec![0u8; 16 * 1024];
                let _ = socket.read(&mut request).await;
                let answer: Vec<u8> = match reply {
                    Reply::Ok => b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\nconnection: close\r\n\r\nreceived".to_vec(),
                    Reply::Redirect => format!(
                        "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{port}/elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    )
                    .into_bytes(),
                    Reply::Huge => {
                        let mut a = b"HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\nconnection: close\r\n\r\n".to_vec();
                        a.extend(std::iter::repeat_n(b'x', 1 << 20));
                        a
                    }
                    Reply::Silent => {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        Vec::new()
                    }
                };
                let _ = socket.write_all(&answer).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (port, accepted)
}

fn client(allow: &str) -> Outbound {
    Outbound::new(
        AllowList::parse(allow).expect("allow list"),
        Limits {
            connect: Duration::from_secs(2),
            total: Duration::from_millis(1500),
            body_bytes: 1024,
        },
    )
    .expect("client")
}

async fn post(
    client: &Outbound,
    url: &str,
) -> Result<lms_platform::outbound::Answer, OutboundError> {
    client
        .send(Method::POST, url, HeaderMap::new(), b"{}".to_vec())
        .await
}

#[tokio::test]
async fn private_loopback_and_metadata_addresses_are_refused_before_any_connection() {
    let (port, accepted) = receiver(Reply::Ok).await;
    let guarded = client("");
    for url in [
        format!("https://127.0.0.1:{port}/hook"),
        format!("https://localhost:{port}/hook"),
        format!("https://[::1]:{port}/hook"),
        format!("https://[::ffff:127.0.0.1]:{port}/hook"),
        format!("https://2130706433:{port}/hook"),
        format!("https://0x7f.1:{port}/hook"),
        format!("https://0.0.0.0:{port}/hook"),
        "https://10.0.0.1/hook".to_owned(),
        "https://192.168.1.1/hook".to_owned(),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://[fd00:ec2::254]/latest/meta-data/".to_owned(),
        "https://100.64.0.1/hook".to_owned(),
    ] {
        let refused = post(&guarded, &url).await;
        assert!(
            matches!(refused, Err(OutboundError::Refused(_))),
            "{url}: {refused:?}"
        );
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "a refused call reached the receiver"
    );
}

#[tokio::test]
async fn plain_http_credentials_and_other_schemes_are_refused() {
    let (port, accepted) = receiver(Reply::Ok).await;
    let guarded = client("");
    assert!(matches!(
        post(&guarded, &format!("http://127.0.0.1:{port}/hook")).await,
        Err(OutboundError::NotHttps)
    ));
    assert!(matches!(
        post(&guarded, "http://example.com/hook").await,
        Err(OutboundError::NotHttps)
    ));
    for url in [
        "https://user:secret@example.com/hook",
        "ftp://example.com/hook",
        "not a url",
    ] {
        assert!(
            matches!(post(&guarded, url).await, Err(OutboundError::BadUrl(_))),
            "{url}"
        );
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_allowed_internal_target_is_reached_and_its_redirects_are_not_followed() {
    let (port, accepted) = receiver(Reply::Ok).await;
    let allowed = client("127.0.0.1");
    let answer = post(&allowed, &format!("http://127.0.0.1:{port}/hook"))
        .await
        .expect("reached");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, b"received");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    // The allow list names 127.0.0.1, not every loopback name or address.
    assert!(matches!(
        post(&allowed, &format!("https://127.0.0.2:{port}/hook")).await,
        Err(OutboundError::Refused(_))
    ));
    // A name is allowed by naming it.
    let by_name = client("localhost");
    let answer = post(&by_name, &format!("http://localhost:{port}/hook"))
        .await
        .expect("reached");
    assert_eq!(answer.status, 200);

    let (redirecting, hits) = receiver(Reply::Redirect).await;
    let answer = post(&allowed, &format!("http://127.0.0.1:{redirecting}/hook"))
        .await
        .expect("answered");
    assert_eq!(answer.status, 302, "the redirect is the answer");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "the redirect was not followed"
    );
}

#[tokio::test]
async fn slow_and_oversized_answers_are_cut_off() {
    let allowed = client("127.0.0.1");
    let (huge, _) = receiver(Reply::Huge).await;
    let answer = post(&allowed, &format!("http://127.0.0.1:{huge}/hook"))
        .await
        .expect("answered");
    assert_eq!((answer.body.len(), answer.truncated), (1024, true));

    let (silent, _) = receiver(Reply::Silent).await;
    let started = std::time::Instant::now();
    let timed_out = post(&allowed, &format!("http://127.0.0.1:{silent}/hook")).await;
    assert!(
        matches!(timed_out, Err(OutboundError::Timeout(_))),
        "{timed_out:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
