//! A fault-injecting HTTP/1.1 proxy on 127.0.0.1 in front of a registry. Every request is
//! forwarded with `Connection: close` (one request per connection, so each one is seen), and
//! a rule decides per request: forward it, answer it with an error status instead, or forward
//! part of its body and then cut the connection after running a callback (e.g. killing the
//! registry mid-upload), or forward part of its body and then stall: stop reading and never
//! answer, holding the connection open. Requests that are not HTTP (a TLS probe) are dropped.
//! [`SilentServer`] accepts connections and never reads or answers anything.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What the rule sees of a request.
#[derive(Debug, Clone)]
pub struct RequestHead {
    pub method: String,
    pub path: String,
    /// 1 for the first request the proxy sees.
    pub number: usize,
    /// The request's Content-Length (0 if it has none).
    pub content_length: u64,
}

pub enum Action {
    Forward,
    /// Answer with this status and extra headers; the request never reaches the registry.
    Respond(u16, Vec<(String, String)>),
    /// Forward the head and `after` bytes of the body, run the callback, cut both sides.
    CutAfter(u64, Box<dyn FnOnce() + Send>),
    /// Forward the head and `after` bytes of the body, then read nothing more and never
    /// answer; the connection stays open until the proxy is dropped.
    StallAfter(u64),
    /// Forward, and pass the registry's answer head (status line and headers, as text
    /// without the blank line) through this edit before the client sees it: a registry
    /// that answers another status or hands out another kind of Location.
    EditAnswer(Box<dyn FnOnce(String) -> String + Send>),
}

type Rule = Box<dyn FnMut(&RequestHead) -> Action + Send>;

pub struct FaultProxy {
    addr: String,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Proxy to `upstream` (`127.0.0.1:PORT`), applying `rule` to each request.
    pub fn start(
        upstream: &str,
        rule: impl FnMut(&RequestHead) -> Action + Send + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr").to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let upstream = upstream.to_owned();
        let mut rule: Rule = Box::new(rule);
        let thread = {
            let stop = stop.clone();
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut number = 0;
                // Stalled connections, held open until the proxy stops.
                let mut held = Vec::new();
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = conn else { continue };
                    handle(client, &upstream, &mut rule, &mut number, &seen, &mut held);
                }
            })
        };
        Self {
            addr,
            stop,
            seen,
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT` of the proxy.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `METHOD PATH -> what happened`, one per request seen.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Read until the end of the request head; `None` if the peer is not speaking HTTP.
fn read_head(client: &mut TcpStream) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = client.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if !buf[0].is_ascii_uppercase() {
            return None;
        }
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Some((buf, rest));
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
    }
}

/// Answers `status` with `extra` headers, after reading the `unread` rest of the request body
/// so the client sees the answer, not a reset.
fn respond(client: &mut TcpStream, status: u16, extra: &[(String, String)], unread: u64) {
    let mut left = unread;
    let mut sink = [0u8; 16384];
    while left > 0 {
        match client.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n as u64),
        }
    }
    let mut answer =
        format!("HTTP/1.1 {status} Injected\r\nContent-Length: 0\r\nConnection: close\r\n");
    for (k, v) in extra {
        answer.push_str(&format!("{k}: {v}\r\n"));
    }
    answer.push_str("\r\n");
    let _ = client.write_all(answer.as_bytes());
    let _ = client.shutdown(Shutdown::Both);
}

/// Sends the first `after` body bytes (`already` read, then from `client`) to `server`;
/// returns how many went.
fn forward_body(client: &mut TcpStream, server: &mut TcpStream, already: &[u8], after: u64) -> u64 {
    let take = (already.len() as u64).min(after) as usize;
    let _ = server.write_all(&already[..take]);
    let mut sent = take as u64;
    let mut chunk = [0u8; 8192];
    while sent < after {
        let want = ((after - sent) as usize).min(chunk.len());
        match client.read(&mut chunk[..want]) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let _ = server.write_all(&chunk[..n]);
                sent += n as u64;
            }
        }
    }
    sent
}

/// A request head as the proxy forwards it.
struct Head {
    request_line: String,
    method: String,
    path: String,
    content_length: u64,
    /// Every header but `Connection` (the proxy closes each connection itself).
    headers: Vec<String>,
}

fn parse_head(head: &[u8]) -> Head {
    let text = String::from_utf8_lossy(head).into_owned();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut content_length = 0u64;
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                content_length = v.trim().parse().unwrap_or(0);
            }
            if !k.eq_ignore_ascii_case("connection") {
                headers.push(line.to_owned());
            }
        }
    }
    Head {
        request_line,
        method,
        path,
        content_length,
        headers,
    }
}

fn handle(
    mut client: TcpStream,
    upstream: &str,
    rule: &mut Rule,
    number: &mut usize,
    seen: &Mutex<Vec<String>>,
    held: &mut Vec<TcpStream>,
) {
    // Bounded: a client that stops sending cannot hang the proxy.
    let _ = client.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    let Some((head, already)) = read_head(&mut client) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let Head {
        request_line,
        method,
        path,
        content_length,
        headers,
    } = parse_head(&head);
    *number += 1;
    let req = RequestHead {
        method: method.clone(),
        path: path.clone(),
        number: *number,
        content_length,
    };
    let action = rule(&req);
    let record = |what: &str| {
        if let Ok(mut s) = seen.lock() {
            s.push(format!("{method} {path} -> {what}"));
        }
    };
    match action {
        Action::Respond(status, extra) => {
            let unread = content_length.saturating_sub(already.len() as u64);
            respond(&mut client, status, &extra, unread);
            record(&format!("injected {status}"));
        }
        Action::Forward | Action::CutAfter(..) | Action::StallAfter(_) | Action::EditAnswer(_) => {
            let Ok(mut server) = TcpStream::connect(upstream) else {
                record("upstream unreachable");
                let _ = client.shutdown(Shutdown::Both);
                return;
            };
            let mut new_head = format!("{request_line}\r\n");
            for h in &headers {
                new_head.push_str(h);
                new_head.push_str("\r\n");
            }
            new_head.push_str("Connection: close\r\n\r\n");
            if server.write_all(new_head.as_bytes()).is_err() {
                record("upstream write failed");
                return;
            }
            if let Action::StallAfter(after) = action {
                let sent = forward_body(&mut client, &mut server, &already, after);
                record(&format!("stalled after {sent} body bytes"));
                held.push(client);
                held.push(server);
                return;
            }
            if let Action::CutAfter(after, callback) = action {
                let sent = forward_body(&mut client, &mut server, &already, after);
                callback();
                let _ = server.shutdown(Shutdown::Both);
                let _ = client.shutdown(Shutdown::Both);
                record(&format!("cut after {sent} body bytes"));
                return;
            }
            let _ = server.write_all(&already);
            let edit = match action {
                Action::EditAnswer(edit) => Some(edit),
                _ => None,
            };
            relay(client, server, edit, &record);
        }
    }
}

/// Copies the rest of the request to `server` and its answer back to `client`, the answer
/// head passed through `edit` if there is one.
fn relay(
    mut client: TcpStream,
    mut server: TcpStream,
    edit: Option<Box<dyn FnOnce(String) -> String + Send>>,
    record: &dyn Fn(&str),
) {
    let (Ok(mut client_reader), Ok(mut server_writer)) = (client.try_clone(), server.try_clone())
    else {
        return;
    };
    let upload = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_reader, &mut server_writer);
    });
    let edited = if let Some(edit) = edit {
        match read_head(&mut server) {
            Some((head, rest)) => {
                let text = String::from_utf8_lossy(&head);
                let edited = edit(text.trim_end_matches("\r\n").to_owned());
                let _ = client.write_all(edited.as_bytes());
                let _ = client.write_all(b"\r\n\r\n");
                let _ = client.write_all(&rest);
            }
            None => record("no answer head to edit"),
        }
        " (answer edited)"
    } else {
        ""
    };
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
    let _ = upload.join();
    record(&format!("forwarded{edited}"));
}

/// A server on 127.0.0.1 that accepts every connection and then does nothing: reads
/// nothing, answers nothing, closes nothing until dropped (a registry that hangs).
pub struct SilentServer {
    addr: String,
    stop: Arc<AtomicBool>,
    accepted: Arc<Mutex<usize>>,
    thread: Option<JoinHandle<()>>,
}

impl SilentServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind silent server");
        let addr = listener
            .local_addr()
            .expect("silent server addr")
            .to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(Mutex::new(0));
        let thread = {
            let (stop, accepted) = (stop.clone(), accepted.clone());
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(c) = conn {
                        held.push(c);
                        if let Ok(mut n) = accepted.lock() {
                            *n += 1;
                        }
                    }
                }
            })
        };
        Self {
            addr,
            stop,
            accepted,
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.lock().map(|n| *n).unwrap_or(0)
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
