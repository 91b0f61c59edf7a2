//! Group commit: acceptances arriving at the same time in one process (the `-bs` session, later
//! the listener's connections) share one transaction and one fsync.
//!
//! One writer thread owns the [`Store`]. A caller hands it a [`Submission`] and blocks until the
//! transaction holding it is committed; meanwhile the writer takes every submission already
//! waiting into the same transaction. With `synchronous=FULL` an fsync costs ~2 ms here, so N
//! waiting callers are acknowledged after one fsync instead of N. Across processes (several
//! `sendmail` at once) SQLite's own lock serialises the commits; nothing is shared between them.

use super::store::{Refusal, Store, Submission};
use super::Error;
use std::sync::mpsc;
use std::thread::JoinHandle;

/// The most messages one transaction takes: bounds the latency of the first caller in a burst.
const MAX_BATCH: usize = 256;
/// The most bytes one transaction takes (messages can be 25 MiB each).
const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;

enum Job {
    Submit {
        submission: Submission,
        reply: mpsc::SyncSender<Result<i64, Error>>,
    },
    /// A refusal for the mail log; acknowledged once committed.
    Refuse {
        refusal: Refusal,
        reply: mpsc::SyncSender<Result<(), Error>>,
    },
}

/// The queue's writer: submit from any thread; each call returns once its message is durable.
pub struct Intake {
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
}

impl Intake {
    /// Starts the writer thread over `store`.
    pub fn start(store: Store) -> Intake {
        let (tx, rx) = mpsc::channel::<Job>();
        let writer = std::thread::Builder::new()
            .name("outbox-intake".into())
            .spawn(move || write_loop(store, rx))
            .expect("a thread for the outbox writer");
        Intake { jobs: Some(tx), writer: Some(writer) }
    }

    /// Queues `submission` and returns its id once it is committed (fsynced).
    pub fn submit(&self, submission: Submission) -> Result<i64, Error> {
        let (reply, answer) = mpsc::sync_channel(1);
        let gone = || Error::Storage { path: String::new(), message: "the outbox writer stopped".into() };
        self.jobs.as_ref().ok_or_else(gone)?.send(Job::Submit { submission, reply }).map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }

    /// Writes a 'refused' row (per recipient) to the mail log; returns once it is committed.
    /// Refusals waiting together share a transaction, as messages do.
    pub fn refuse(&self, refusal: Refusal) -> Result<(), Error> {
        let (reply, answer) = mpsc::sync_channel(1);
        let gone = || Error::Storage { path: String::new(), message: "the outbox writer stopped".into() };
        self.jobs.as_ref().ok_or_else(gone)?.send(Job::Refuse { refusal, reply }).map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }
}

impl Drop for Intake {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

fn write_loop(mut store: Store, jobs: mpsc::Receiver<Job>) {
    let size = |j: &Job| if let Job::Submit { submission, .. } = j { submission.body.len() } else { 0 };
    while let Ok(first) = jobs.recv() {
        let mut bytes = size(&first);
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            match jobs.try_recv() {
                Ok(j) => {
                    bytes += size(&j);
                    batch.push(j);
                }
                Err(_) => break,
            }
        }
        let (mut submissions, mut replies, mut refusals, mut refused) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for j in batch {
            match j {
                Job::Submit { submission, reply } => {
                    submissions.push(submission);
                    replies.push(reply);
                }
                Job::Refuse { refusal, reply } => {
                    refusals.push(refusal);
                    refused.push(reply);
                }
            }
        }
        if !submissions.is_empty() {
            match store.insert(&submissions) {
                Ok(ids) => {
                    for (reply, id) in replies.into_iter().zip(ids) {
                        let _ = reply.send(Ok(id));
                    }
                }
                Err(e) => {
                    for reply in replies {
                        let _ = reply.send(Err(copy(&e)));
                    }
                }
            }
        }
        if !refusals.is_empty() {
            let r = store.record_refusals(&refusals);
            for reply in refused {
                let _ = reply.send(r.as_ref().map(|_| ()).map_err(copy));
            }
        }
    }
}

fn copy(e: &Error) -> Error {
    let (path, message) = match e {
        Error::Storage { path, message } => (path.clone(), message.clone()),
        other => (String::new(), other.to_string()),
    };
    Error::Storage { path, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::store::Dsn;
    use std::sync::Arc;

    fn sub(i: usize) -> Submission {
        Submission {
            sender: "a@example.com".into(),
            recipients: vec![format!("r{i}@example.com")],
            body: vec![b'x'; 4096],
            subject: format!("m{i}"),
            message_id: format!("<{i}@example.com>"),
            source: "test".into(),
            options: Dsn::default(),
            profile: "global".into(),
        }
    }

    /// Many threads at once: every one gets a distinct id and every message is stored.
    /// Also prints the rate, to compare with one transaction per message.
    #[test]
    fn concurrent_submissions_share_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite3");
        let intake = Arc::new(Intake::start(Store::open(&path).unwrap()));
        let (threads, each) = (16, 25);
        let started = std::time::Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let intake = intake.clone();
                std::thread::spawn(move || (0..each).map(|i| intake.submit(sub(t * each + i)).unwrap()).collect::<Vec<_>>())
            })
            .collect();
        let mut ids: Vec<i64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        let elapsed = started.elapsed();
        eprintln!(
            "group commit: {} messages from {threads} threads in {elapsed:?} ({:.0}/s)",
            ids.len(),
            ids.len() as f64 / elapsed.as_secs_f64()
        );
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), threads * each);
        // The baseline: one caller, so one message per transaction.
        let started = std::time::Instant::now();
        for i in 0..100 {
            intake.submit(sub(i)).unwrap();
        }
        eprintln!("one at a time: 100 messages in {:?} ({:.0}/s)", started.elapsed(), 100.0 / started.elapsed().as_secs_f64());
        drop(intake);
        let s = Store::open(&path).unwrap();
        let n = s.conn().query_row("SELECT count(*) FROM message", [], |r| r.get::<_, i64>(0)).unwrap() as usize;
        assert_eq!(n, threads * each + 100);
    }
}
