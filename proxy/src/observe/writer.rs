//! The log writer: an event is formatted on the thread that emits it and appended to one shared
//! buffer, which a writer thread writes out every [`FLUSH_EVERY`] (one `write` per batch, off
//! the workers, like nginx's `access_log … buffer= flush=`). An emitting thread never makes a
//! system call for a line, except the one wake-up of the writer per batch; nothing is dropped: a
//! buffer past [`MAX_BUFFERED`] is written by the thread that filled it (the writer's pace is
//! the log's), and [`LogFlush`] writes out the rest when the process ends. Lines keep their
//! order: every write takes the output's lock before it takes the buffer.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tracing_subscriber::fmt::MakeWriter;

/// How long lines gather after the first of a batch before the writer writes them.
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// Bytes buffered at which the emitting thread writes them out itself.
const MAX_BUFFERED: usize = 1 << 20;

struct Shared {
    buf: Mutex<Vec<u8>>,
    /// Signalled when a line lands in an empty buffer.
    filled: Condvar,
    out: Mutex<Box<dyn Write + Send>>,
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding either lock leaves nothing half-done that matters for a log.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Appends one line; wakes the writer when the buffer was empty.
    fn push(&self, line: &[u8]) {
        let mut buf = lock(&self.buf);
        let was_empty = buf.is_empty();
        buf.extend_from_slice(line);
        let full = buf.len() >= MAX_BUFFERED;
        drop(buf);
        if full {
            self.write_out();
        } else if was_empty {
            self.filled.notify_one();
        }
    }

    /// Writes out everything buffered so far, after any write already under way.
    fn write_out(&self) {
        let mut out = lock(&self.out);
        let batch = std::mem::take(&mut *lock(&self.buf));
        if !batch.is_empty() {
            // A log that cannot be written (stderr closed) is not the proxy's failure.
            let _ = out.write_all(&batch);
            let _ = out.flush();
        }
    }

    /// The writer thread: sleeps until a line arrives, lets a batch gather, writes it.
    fn run(&self) {
        loop {
            let mut buf = lock(&self.buf);
            while buf.is_empty() {
                buf = self
                    .filled
                    .wait(buf)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            drop(buf);
            std::thread::sleep(FLUSH_EVERY);
            self.write_out();
        }
    }
}

/// A `MakeWriter` for tracing-subscriber's fmt layer that appends each event's line to the
/// shared buffer (or, when no writer thread could be started, writes it to stderr at once).
#[derive(Clone)]
pub struct LogWriter {
    shared: Option<Arc<Shared>>,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("buffered", &self.shared.is_some())
            .finish()
    }
}

/// Writes out every buffered line when dropped (keep it alive until the process ends).
pub struct LogFlush {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LogFlush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogFlush")
    }
}

impl LogWriter {
    /// Starts the writer thread over `out` (stderr in the binary).
    pub fn spawn<W: Write + Send + 'static>(out: W) -> io::Result<(Self, LogFlush)> {
        let shared = Arc::new(Shared {
            buf: Mutex::new(Vec::new()),
            filled: Condvar::new(),
            out: Mutex::new(Box::new(out)),
        });
        let writer = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("rampart-log".into())
            .spawn(move || writer.run())?;
        Ok((
            Self {
                shared: Some(Arc::clone(&shared)),
            },
            LogFlush { shared },
        ))
    }

    /// Queues one whole line (newline included) as an event's line is queued.
    pub fn write_line(&self, line: &[u8]) {
        match &self.shared {
            Some(shared) => shared.push(line),
            None => {
                let _ = io::stderr().write_all(line);
            }
        }
    }

    /// The writer thread over stderr, or (if no thread can be started) stderr line by line.
    pub fn stderr() -> (Self, Option<LogFlush>) {
        match Self::spawn(io::stderr()) {
            Ok((writer, flush)) => (writer, Some(flush)),
            Err(_) => (Self { shared: None }, None),
        }
    }
}

impl Drop for LogFlush {
    fn drop(&mut self) {
        self.shared.write_out();
    }
}

/// One event's line, appended to the buffer when the fmt layer is done with it.
#[derive(Debug)]
pub struct LineWriter<'a> {
    shared: Option<&'a Shared>,
    line: Vec<u8>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shared")
    }
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter<'_> {
    fn drop(&mut self) {
        if self.line.is_empty() {
            return;
        }
        match self.shared {
            Some(shared) => shared.push(&self.line),
            None => {
                let _ = io::stderr().write_all(&self.line);
            }
        }
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: self.shared.as_deref(),
            line: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// An output that records every write call and its bytes.
    #[derive(Clone, Default)]
    struct Recorded(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Recorded {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut r = self.0.lock().unwrap();
            r.0.extend_from_slice(buf);
            r.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_arrives_in_order_batched_and_the_flush_writes_the_rest() {
        let out = Recorded::default();
        let (writer, flush) = LogWriter::spawn(out.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    // Past MAX_BUFFERED in all, so emitters write some batches themselves.
                    for i in 0..20_000 {
                        let mut w = writer.make_writer();
                        w.write_all(format!("t{t} line {i} {:>20}\n", "").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(flush);
        let (bytes, writes) = out.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text.lines().count(), 80_000, "no line lost");
        for t in 0..4 {
            let mine: Vec<usize> = text
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("t{t} line ")))
                .map(|n| n.split_whitespace().next().unwrap().parse().unwrap())
                .collect();
            assert_eq!(mine, (0..20_000).collect::<Vec<_>>(), "thread {t} in order");
        }
        assert!(writes < 1_000, "lines were batched: {writes} writes");
    }

    #[test]
    fn a_lone_line_is_written_by_the_writer_thread_soon() {
        let out = Recorded::default();
        let (writer, _flush) = LogWriter::spawn(out.clone()).unwrap();
        {
            let mut w = writer.make_writer();
            w.write_all(b"{\"a\":").unwrap();
            w.write_all(b"1}\n").unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while out.0.lock().unwrap().0.is_empty() {
            assert!(Instant::now() < deadline, "the line was never written");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(out.0.lock().unwrap().0, b"{\"a\":1}\n", "one line, whole");
    }
}
