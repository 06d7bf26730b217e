//! The load generator: keep-alive HTTP/1.1 connections driven from one thread by a
//! level-triggered epoll loop, one request in flight per connection (as wrk does).
//!
//! It is lean on purpose. A generator built on an async client spends more CPU per request
//! than a minimal server does, so on a machine where each side gets one core it measures
//! itself rather than the server, and every server looks closer to the ceiling than it is.
//! Here a request is a single `write` of bytes built once, and a response is found by its
//! header end and `Content-Length` without being parsed any further, so the server core
//! saturates before the generator's does.

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// What one run of the generator saw.
pub struct Figures {
    /// Responses completed inside the measured window.
    pub requests: u64,
    /// Non-2xx responses and connections the server closed.
    pub errors: u64,
    pub per_second: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub elapsed: Duration,
}

/// When a run stops.
#[derive(Clone, Copy)]
pub enum Stop {
    /// After this long; requests still in flight then carry over to the next run.
    After(Duration),
    /// Once this many more responses arrived; nothing is left in flight.
    Requests(u64),
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    filled: usize,
    /// How much of the current request is written; equal to its length once sent.
    written: usize,
    in_flight: bool,
    /// Whether EPOLLOUT is armed, which it is only while a request is half written.
    wants_out: bool,
    sent_at: Instant,
    open: bool,
}

pub struct Generator {
    epoll: OwnedFd,
    conns: Vec<Conn>,
    request: Vec<u8>,
    events: Vec<libc::epoll_event>,
}

impl Generator {
    /// Opens `connections` keep-alive connections that will all send `request`, a complete
    /// HTTP/1.1 request.
    pub fn connect(addr: SocketAddr, connections: usize, request: Vec<u8>) -> Result<Self> {
        // SAFETY: epoll_create1 has no preconditions; a non-negative result is a new fd that
        // only this OwnedFd closes.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("epoll_create1");
        }
        // SAFETY: see above.
        let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut g = Generator {
            epoll,
            conns: Vec::with_capacity(connections),
            request,
            events: vec![libc::epoll_event { events: 0, u64: 0 }; connections.clamp(1, 1024)],
        };
        for i in 0..connections {
            let stream =
                TcpStream::connect(addr).with_context(|| format!("cannot connect to {addr}"))?;
            stream.set_nodelay(true)?;
            stream.set_nonblocking(true)?;
            g.ctl(libc::EPOLL_CTL_ADD, stream.as_raw_fd(), libc::EPOLLIN, i)?;
            g.conns.push(Conn {
                stream,
                buf: vec![0; 4096],
                filled: 0,
                written: 0,
                in_flight: false,
                wants_out: false,
                sent_at: Instant::now(),
                open: true,
            });
        }
        Ok(g)
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: libc::c_int, i: usize) -> Result<()> {
        let mut ev = libc::epoll_event {
            events: events as u32,
            u64: i as u64,
        };
        // SAFETY: both fds are open for the duration of the call and `ev` outlives it.
        if unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut ev) } < 0 {
            return Err(std::io::Error::last_os_error()).context("epoll_ctl");
        }
        Ok(())
    }

    /// Drives the connections until `stop`. Latency runs from the request's first byte
    /// written to its response's last byte read; only responses that complete inside the
    /// run are counted.
    pub fn run(&mut self, stop: Stop) -> Result<Figures> {
        let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        let (mut done, mut errors) = (0u64, 0u64);
        let start = Instant::now();
        let (deadline, limit) = match stop {
            Stop::After(d) => (Some(start + d), u64::MAX),
            Stop::Requests(n) => (None, n),
        };
        let mut sent = self.conns.iter().filter(|c| c.in_flight).count() as u64;
        for i in 0..self.conns.len() {
            if sent < limit && self.conns[i].open && !self.conns[i].in_flight {
                self.send(i)?;
                sent += 1;
            }
        }
        loop {
            let timeout = match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break;
                    }
                    // Rounded up, so the loop never spins on a zero timeout before the end.
                    ((d - now).as_micros().div_ceil(1000)).min(100) as libc::c_int
                }
                None => {
                    if done >= limit || self.conns.iter().all(|c| !c.open || !c.in_flight) {
                        break;
                    }
                    100
                }
            };
            // SAFETY: `events` is a live buffer of the length passed.
            let n = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    self.events.as_mut_ptr(),
                    self.events.len() as libc::c_int,
                    timeout,
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(e).context("epoll_wait");
            }
            for k in 0..n as usize {
                let ev = self.events[k];
                let i = ev.u64 as usize;
                if ev.events & libc::EPOLLOUT as u32 != 0 {
                    self.flush(i)?;
                }
                if ev.events & (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR) as u32 == 0 {
                    continue;
                }
                let c = &mut self.conns[i];
                if c.filled == c.buf.len() {
                    c.buf.resize(c.buf.len() * 2, 0);
                }
                match c.stream.read(&mut c.buf[c.filled..]) {
                    Ok(0) => {
                        self.close(i)?;
                        errors += 1;
                        continue;
                    }
                    Ok(r) => c.filled += r,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => {
                        self.close(i)?;
                        errors += 1;
                        continue;
                    }
                }
                let Some((len, status)) = parse_response(&c.buf[..c.filled])? else {
                    continue;
                };
                let now = Instant::now();
                c.buf.copy_within(len..c.filled, 0);
                c.filled -= len;
                c.in_flight = false;
                let in_window = deadline.is_none_or(|d| now < d);
                if in_window {
                    hist.saturating_record(now.duration_since(c.sent_at).as_micros() as u64);
                    done += 1;
                    if !(200..300).contains(&status) {
                        errors += 1;
                    }
                }
                if c.filled != 0 {
                    bail!("a response arrived with no request outstanding");
                }
                if sent < limit {
                    self.send(i)?;
                    sent += 1;
                }
            }
        }
        let elapsed = start.elapsed();
        let window = match stop {
            Stop::After(d) => d,
            Stop::Requests(_) => elapsed,
        };
        Ok(Figures {
            requests: done,
            errors,
            per_second: done as f64 / window.as_secs_f64(),
            p50_us: hist.value_at_quantile(0.50),
            p99_us: hist.value_at_quantile(0.99),
            elapsed: window,
        })
    }

    fn send(&mut self, i: usize) -> Result<()> {
        let c = &mut self.conns[i];
        c.in_flight = true;
        c.written = 0;
        c.sent_at = Instant::now();
        self.flush(i)
    }

    /// Writes what is left of connection `i`'s request; a short write waits for EPOLLOUT.
    fn flush(&mut self, i: usize) -> Result<()> {
        let c = &mut self.conns[i];
        while c.written < self.request.len() {
            match c.stream.write(&self.request[c.written..]) {
                Ok(w) => c.written += w,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if c.wants_out {
                        return Ok(());
                    }
                    c.wants_out = true;
                    let fd = c.stream.as_raw_fd();
                    return self.ctl(libc::EPOLL_CTL_MOD, fd, libc::EPOLLIN | libc::EPOLLOUT, i);
                }
                Err(e) => return Err(e).context("write"),
            }
        }
        if c.wants_out {
            c.wants_out = false;
            let fd = c.stream.as_raw_fd();
            self.ctl(libc::EPOLL_CTL_MOD, fd, libc::EPOLLIN, i)?;
        }
        Ok(())
    }

    fn close(&mut self, i: usize) -> Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, self.conns[i].stream.as_raw_fd(), 0, i)?;
        let c = &mut self.conns[i];
        c.open = false;
        c.in_flight = false;
        if self.conns.iter().all(|c| !c.open) {
            bail!("the server closed every connection");
        }
        Ok(())
    }
}

/// The length and status of the complete response at the start of `buf`, or `None` while
/// it is still arriving. Both servers send `Content-Length`; anything else is refused
/// rather than misread.
fn parse_response(buf: &[u8]) -> Result<Option<(usize, u16)>> {
    let Some(head_end) = find_head_end(buf) else {
        return Ok(None);
    };
    let head = &buf[..head_end];
    if head.len() < 12 || !head.starts_with(b"HTTP/1.") {
        bail!(
            "not an HTTP/1 response: {:?}",
            String::from_utf8_lossy(head)
        );
    }
    let status = std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|s| s.parse::<u16>().ok())
        .context("malformed status line")?;
    let mut length = None;
    for line in head.split(|&b| b == b'\n') {
        const NAME: &[u8] = b"content-length:";
        if line.len() > NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME) {
            let v = std::str::from_utf8(&line[NAME.len()..])
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .context("malformed content-length")?;
            length = Some(v);
            break;
        }
    }
    let Some(length) = length else {
        bail!(
            "a response without content-length: {:?}",
            String::from_utf8_lossy(head)
        );
    };
    let total = head_end + length;
    Ok((buf.len() >= total).then_some((total, status)))
}

/// The offset just past the blank line that ends the head.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = buf[from..].iter().position(|&b| b == b'\n') {
        let at = from + p;
        if buf[at + 1..].starts_with(b"\r\n") {
            return Some(at + 3);
        }
        if buf[at + 1..].starts_with(b"\n") {
            return Some(at + 2);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_whole_response_and_no_more() {
        let r = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse_response(r).unwrap(), Some((r.len(), 200)));
        assert_eq!(parse_response(&r[..r.len() - 1]).unwrap(), None);
        assert_eq!(parse_response(&r[..20]).unwrap(), None);
        let mut two = r.to_vec();
        two.extend_from_slice(b"HTTP/1.1 429");
        assert_eq!(parse_response(&two).unwrap(), Some((r.len(), 200)));
    }

    #[test]
    fn refuses_what_it_cannot_frame() {
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        assert!(parse_response(chunked).is_err());
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }
}
