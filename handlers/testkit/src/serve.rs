//! The handler served over HTTP on a loopback port, for clients that speak HTTP (the
//! generated SDKs): each request becomes the API Gateway HTTP API event
//! scripts/local-gateway.py builds, goes through [`Client::send`] (routed, and its
//! answer checked against the contract), and the response document becomes the HTTP
//! answer. One request per connection (`Connection: close`). Stopping it closes the
//! port, so a client then meets a refused connection, as with a handler that is down.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::{Client, Event, Response};

/// A loopback HTTP server in front of a harness's handler; stopped when dropped.
pub struct Served {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    accept: JoinHandle<()>,
}

impl Served {
    /// Serves `client`'s handler on a free loopback port.
    pub async fn start(client: Client) -> Served {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("a bound address"));
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let client = client.clone();
                tokio::spawn(async move {
                    // A client that goes away mid-request is its own business.
                    let _ = answer(stream, &client).await;
                });
            }
        });
        Served { url, accept }
    }

    /// Closes the port: new connections are refused from now on.
    pub async fn stop(mut self) {
        self.accept.abort();
        let accept = std::mem::replace(&mut self.accept, tokio::spawn(async {}));
        let _ = accept.await;
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// A loopback port that accepts connections and never answers: a hung capability.
pub struct Silent {
    pub url: String,
    accept: JoinHandle<()>,
}

impl Silent {
    pub async fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("a bound address"));
        let accept = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        Silent { url, accept }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn answer(mut stream: TcpStream, client: &Client) -> std::io::Result<()> {
    let Some((head, body)) = read_request(&mut stream).await? else {
        return Ok(());
    };
    let mut lines = head.split("\r\n");
    let mut start = lines.next().unwrap_or("").split(' ');
    let method = start.next().unwrap_or("GET").to_string();
    let target = start.next().unwrap_or("/").to_string();
    let (path, raw_query) = target.split_once('?').unwrap_or((&target, ""));
    let mut event = Event::new(&method, path).without_header("content-type");
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        event = event.query(
            &stackpro_runtime::contract::percent_decode(name),
            &stackpro_runtime::contract::percent_decode(value),
        );
    }
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            event = event.header(name.trim(), value.trim());
        }
    }
    if !body.is_empty() {
        event = match std::str::from_utf8(&body) {
            Ok(text) => event.text(text),
            Err(_) => event.bytes(&body),
        };
    }
    let response = client.send(event).await;
    stream.write_all(&http_response(&response)).await?;
    stream.shutdown().await
}

/// The request's head (request line and headers) and its body, by Content-Length;
/// `None` when the connection closes first. Bounded in time and size: a test server.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let read = async {
        loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buffer[..end]).to_string();
                let length: usize = head
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse().ok())
                    .unwrap_or(0);
                while buffer.len() < end + 4 + length {
                    let n = stream.read(&mut chunk).await?;
                    if n == 0 {
                        return Ok(None);
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                }
                return Ok(Some((head, buffer[end + 4..end + 4 + length].to_vec())));
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 || buffer.len() > 4 << 20 {
                return Ok(None);
            }
            buffer.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .unwrap_or(Ok(None))
}

fn http_response(response: &Response) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        if !matches!(
            name.as_str(),
            "content-length" | "connection" | "transfer-encoding"
        ) {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        response.text.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(response.text.as_bytes());
    bytes
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
