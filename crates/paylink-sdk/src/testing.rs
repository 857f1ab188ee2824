//! A merchant's server for test suites, in process: it records every request it gets
//! (postbacks, payout webhooks, the payer's browser arriving at the success and fail pages)
//! and answers as the test tells it. One thread per connection, apart from any async runtime,
//! so a test may wait on it from async code without starving it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a wait for requests may take before the test fails: a bound on hangs (CI machines
/// are small and loaded), not a timing assertion.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The form-encoded body's fields, then the query's.
    pub fields: Vec<(String, String)>,
}

impl Received {
    /// The first field `name` (empty when absent).
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The first header `name`, in any case (empty when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Shared {
    log: Mutex<Vec<Received>>,
    /// What `/postback` answers (200 unless set).
    status: AtomicU16,
    /// Requests arriving while set are held unanswered.
    hang: AtomicBool,
    stopped: AtomicBool,
}

/// Listens on `127.0.0.1:<free port>` until dropped. `/postback` answers the status set by
/// [`Receiver::answer_with`] (200 by default); any other path answers 200 with an HTML page
/// listing the request's fields (`<h1 id="landed">`), as a merchant's landing page.
pub struct Receiver {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    shared: Arc<Shared>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a receiver");
        let base = format!("http://{}", listener.local_addr().expect("its address"));
        let shared = Arc::new(Shared::default());
        let accepting = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let shared = accepting.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Receiver { base, shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What `/postback` answers from now on.
    pub fn answer_with(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// While on, requests are recorded and then held without an answer (until the sender gives
    /// up or the receiver is dropped): a merchant's server that hangs.
    pub fn hang(&self, on: bool) {
        self.shared.hang.store(on, Ordering::SeqCst);
    }

    /// Every request so far.
    pub fn all(&self) -> Vec<Received> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Every request to `path` so far.
    pub fn at(&self, path: &str) -> Vec<Received> {
        self.matching(|r| r.path == path)
    }

    fn matching(&self, wanted: impl Fn(&Received) -> bool) -> Vec<Received> {
        let log = self.shared.log.lock().unwrap();
        log.iter().filter(|r| wanted(r)).cloned().collect()
    }

    /// Waits (polling, up to [`PATIENCE`]) until `path` has had `n` requests; returns them all.
    pub async fn wait_for(&self, path: &str, n: usize) -> Vec<Received> {
        self.wait_until(n, path, |r| r.path == path).await
    }

    /// Waits (polling, up to [`PATIENCE`]) until `n` requests match `wanted` (`what` names
    /// them in the failure); returns them all, oldest first.
    pub async fn wait_until(
        &self,
        n: usize,
        what: &str,
        wanted: impl Fn(&Received) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let got = self.matching(&wanted);
            if got.len() >= n {
                return got;
            }
            if Instant::now() > deadline {
                panic!(
                    "{what}: {} requests, expected {n}: {got:?}\nall: {:?}",
                    got.len(),
                    self.all()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Wakes the accepting thread so it sees the flag and closes the listener.
        let _ = TcpStream::connect(self.base.trim_start_matches("http://"));
    }
}

/// Reads one request, records it and answers it (or holds it, see [`Receiver::hang`]).
fn serve(mut stream: TcpStream, shared: &Shared) {
    let Some(received) = read_request(&mut stream) else {
        return;
    };
    let path = received.path.clone();
    let fields = received.fields.clone();
    shared.log.lock().unwrap().push(received);
    if shared.hang.load(Ordering::SeqCst) {
        while !shared.stopped.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        return;
    }
    let (status, content_type, body) = if path == "/postback" {
        let status = match shared.status.load(Ordering::SeqCst) {
            0 => 200,
            s => s,
        };
        (status, "text/plain", format!("answered {status}"))
    } else {
        let list: String = fields
            .iter()
            .map(|(k, v)| format!("<li id=\"{k}\">{k}={v}</li>"))
            .collect();
        (
            200,
            "text/html; charset=utf-8",
            format!(
                "<!doctype html><title>Merchant {path}</title><h1 id=\"landed\">Merchant page {path}</h1><ul>{list}</ul>"
            ),
        )
    };
    let head = format!(
        "HTTP/1.1 {status} Answer\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
}

/// The request on `stream`: its head, then as much body as its `content-length` says (or,
/// chunked, up to the last chunk). `None` when the peer closes first.
fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let end = loop {
        if let Some(end) = find(&data, b"\r\n\r\n") {
            break end;
        }
        let n = stream.read(&mut buf).ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut start = lines.next()?.split(' ');
    let method = start.next()?.to_string();
    let target = start.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = data.split_off(end + 4);
    loop {
        let complete = if chunked {
            find(&body, b"0\r\n\r\n").is_some()
        } else {
            body.len() >= length
        };
        if complete {
            break;
        }
        let n = stream.read(&mut buf).ok().filter(|n| *n > 0)?;
        body.extend_from_slice(&buf[..n]);
    }
    if chunked {
        body = dechunk(&body);
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut fields: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    fields.extend(form_urlencoded::parse(query.as_bytes()).into_owned());
    Some(Received {
        method,
        path: path.to_string(),
        headers,
        body,
        fields,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A chunked body's data.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut data = Vec::new();
    while let Some(line_end) = find(body, b"\r\n") {
        let size = String::from_utf8_lossy(&body[..line_end]);
        let size = size.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size, 16) else {
            break;
        };
        let from = line_end + 2;
        if size == 0 || body.len() < from + size {
            break;
        }
        data.extend_from_slice(&body[from..from + size]);
        body = body.get(from + size + 2..).unwrap_or_default();
    }
    data
}
