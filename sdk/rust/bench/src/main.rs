//! The messaging client's own cost per call, in process: the same `GET /v1/health` to
//! a loopback HTTP/1.1 server (keep-alive, one fixed answer) through the generated
//! client and through a bare reqwest request, alternately; the client's overhead is
//! the difference of the medians (building the URL, the token, the timeout, decoding
//! the typed body). Run by scripts/bench-sdk.sh in release; prints one JSON line.
//!
//!     cargo run --release -p stackpro-sdk-bench -- [CALLS]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use stackpro_messaging_client::{Client, Reply};

const BODY: &str = r#"{"status":"ok","capability":"messaging","version":"v1","checks":{"store":"ok","flags":"store"},"degraded":false}"#;

/// Answers every request on every connection with [`BODY`], keeping connections open.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().expect("clone the stream");
                let mut reader = BufReader::new(stream);
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{BODY}",
                    BODY.len()
                );
                loop {
                    let mut line = String::new();
                    // The request head ends with an empty line; GETs carry no body.
                    loop {
                        line.clear();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => break,
                            Ok(_) => {}
                        }
                    }
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let calls: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(5000);
    let url = serve();
    let client = Client::new(url.clone()).bearer("token");
    let raw = reqwest::Client::new();
    let health = format!("{url}/v1/health");
    let (mut through_client, mut bare) = (Vec::with_capacity(calls), Vec::with_capacity(calls));
    for i in 0..calls + 200 {
        let start = Instant::now();
        let reply = client.health().await;
        let took = start.elapsed();
        assert!(matches!(reply, Reply::Ok(_)), "{reply:?}");
        let start = Instant::now();
        let body = raw
            .get(&health)
            .send()
            .await
            .expect("send")
            .bytes()
            .await
            .expect("body");
        let bare_took = start.elapsed();
        assert_eq!(body.len(), BODY.len());
        // The first 200 warm the connection pools up.
        if i >= 200 {
            through_client.push(took);
            bare.push(bare_took);
        }
    }
    let (c, b) = (median(through_client), median(bare));
    println!(
        "{{\"calls\":{calls},\"client_median_us\":{:.1},\"bare_reqwest_median_us\":{:.1},\"overhead_us\":{:.1}}}",
        c.as_secs_f64() * 1e6,
        b.as_secs_f64() * 1e6,
        (c.as_secs_f64() - b.as_secs_f64()) * 1e6
    );
}
