//! The tables' reads, in parallel inside the coordinator's snapshot.
//!
//! Postgres sorts a table's window when its portal is first fetched, and the merge in
//! `crate::run` needs every table's first row before it can write anything: read through one
//! connection, the sorts run one after another while the rest of the pipeline waits. Here the
//! coordinator exports its snapshot (`pg_export_snapshot()`) and each reader connection imports
//! it (`SET TRANSACTION SNAPSHOT`), so every reader sees exactly the coordinator's rows; the
//! tables are spread over the readers by size, and each reader fetches the next batch of a
//! table while the coordinator encodes the previous one. A first load reads in primary-key
//! order instead ([`Read::ByKey`], `crate::first_load`): the key's index gives that order
//! without a sort.
//!
//! Memory: a table has at most [`READ_AHEAD`] batches in its channel, one being fetched and one
//! being merged, each of `fetch_rows` rows, whatever the window's size.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDateTime, Utc};
use etl_contract::catalog::SourceTable;
use futures_util::future::select_all;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_postgres::{Client, IsolationLevel, Portal, Row, Transaction};

use crate::encode::{PgMicros, RowEncoder};
use crate::error::ExtractError;
use crate::sql;
use crate::tie;

/// Batches a reader may fetch ahead of the merge, per table: enough that a reader keeps its
/// server process busy while the merge drains another table.
const READ_AHEAD: usize = 4;

/// What a reader sends a table's cursor: a batch of rows, the last one flagged.
type Batch = (Vec<Row>, bool);

/// The first error of any reader. A reader that fails records it here and then drops its
/// windows: a cursor that finds its channel closed early reports it (the error, a
/// `tokio_postgres::Error`, cannot be sent to each of the reader's cursors).
type Failure = Arc<Mutex<Option<ExtractError>>>;

/// What one table's reader reads of the rows stamped at or before the snapshot's horizon.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Read {
    /// The window after `from`, resumed inside a tie as `resume` says, in
    /// `(last_updated, primary key)` order.
    ByTime {
        from: Option<DateTime<Utc>>,
        resume: tie::Resume,
    },
    /// Every row with a primary key above `after`, in key order: a first load.
    ByKey { after: Option<i64> },
}

/// One table's read as a reader reads it.
struct Window {
    table: &'static SourceTable,
    read: Read,
    to: NaiveDateTime,
    batches: mpsc::Sender<Batch>,
}

/// One table's read as the coordinator consumes it, in the order of its [`Read`].
pub(crate) struct Cursor {
    pub table: &'static SourceTable,
    pub encoder: RowEncoder,
    batches: mpsc::Receiver<Batch>,
    failure: Failure,
    /// Rows with their `last_updated`, decoded once: the merge compares heads per row written.
    buffer: VecDeque<(PgMicros, Row)>,
    drained: bool,
}

impl Cursor {
    /// Makes sure a row is buffered unless the window is drained.
    async fn fill(&mut self) -> Result<(), ExtractError> {
        if self.buffer.is_empty() && !self.drained {
            match self.batches.recv().await {
                Some((rows, last)) => {
                    fail::fail_point!("extract::after_fetch");
                    self.drained = last;
                    for row in rows {
                        let at = row.try_get(0).map_err(|e| ExtractError::Encode {
                            table: self.table.name,
                            key: row.try_get(1).unwrap_or_default(),
                            column: "last_updated",
                            reason: format!("could not be read: {e}"),
                        })?;
                        self.buffer.push_back((at, row));
                    }
                }
                // A reader drops a window before its last batch only when it failed (and
                // recorded why first) or was stopped: taking that for the end would lose rows.
                None => {
                    let recorded = self.failure.lock().ok().and_then(|mut f| f.take());
                    return Err(recorded.unwrap_or(ExtractError::ReaderLost {
                        table: self.table.name,
                    }));
                }
            }
        }
        Ok(())
    }

    pub fn peek(&self) -> Option<PgMicros> {
        self.buffer.front().map(|(at, _)| *at)
    }

    pub fn pop(&mut self) -> Option<(PgMicros, Row)> {
        self.buffer.pop_front()
    }

    /// Whether every row of the read has been taken.
    pub fn is_done(&self) -> bool {
        self.drained && self.buffer.is_empty()
    }
}

/// The readers of one invocation; dropping this stops them.
pub(crate) struct Readers {
    tasks: JoinSet<()>,
}

/// Exports `tx`'s snapshot and starts one reader per client in `clients`, each in that
/// snapshot, with the tables spread over them by size. `reads` says what to read of each table
/// of `tables` (`None`: nothing, its cursor is done from the start) among the rows stamped at or
/// before `to`. The cursors come in `tables` order.
pub(crate) async fn start(
    tx: &Transaction<'_>,
    clients: Vec<Client>,
    tables: &'static [SourceTable],
    reads: &[Option<Read>],
    to: DateTime<Utc>,
    fetch_rows: i32,
) -> Result<(Readers, Vec<Cursor>), ExtractError> {
    let snapshot: String = tx
        .query_one("SELECT pg_export_snapshot()", &[])
        .await
        .map_err(ExtractError::query("exporting the snapshot to the readers"))?
        .get(0);
    let names: Vec<&str> = tables.iter().map(|t| t.name).collect();
    let sizes = tx
        .query(sql::TABLE_PAGES, &[&names])
        .await
        .map_err(ExtractError::query("reading the source tables' sizes"))?;
    let pages: Vec<i64> = tables
        .iter()
        .enumerate()
        .map(|(i, t)| match reads.get(i) {
            Some(Some(_)) => sizes
                .iter()
                .find(|r| r.get::<_, &str>(0) == t.name)
                .map_or(0, |r| r.get(1)),
            _ => 0,
        })
        .collect();

    let owners = assign(&pages, clients.len());
    let failure = Failure::default();
    let mut assigned: Vec<Vec<Window>> = (0..clients.len()).map(|_| Vec::new()).collect();
    let mut cursors = Vec::with_capacity(tables.len());
    for (i, table) in tables.iter().enumerate() {
        let (sender, receiver) = mpsc::channel(READ_AHEAD);
        let read = reads.get(i).copied().flatten();
        cursors.push(Cursor {
            table,
            encoder: RowEncoder::new(table),
            batches: receiver,
            failure: failure.clone(),
            buffer: VecDeque::new(),
            drained: read.is_none(),
        });
        if let Some(read) = read {
            assigned[owners[i]].push(Window {
                table,
                read,
                to: to.naive_utc(),
                batches: sender,
            });
        }
    }
    let mut tasks = JoinSet::new();
    for (client, windows) in clients.into_iter().zip(assigned) {
        let (snapshot, failure) = (snapshot.clone(), failure.clone());
        tasks.spawn(async move {
            if let Err(error) = read(client, &snapshot, &windows, fetch_rows).await
                && let Ok(mut first) = failure.lock()
            {
                first.get_or_insert(error);
            }
            // Only now, with the failure recorded, do the cursors see their channels close.
            drop(windows);
        });
    }
    Ok((Readers { tasks }, cursors))
}

/// Each table's reader: the largest tables first, each to the reader with the fewest pages so
/// far (longest processing time first), so the sorts finish together.
fn assign(pages: &[i64], readers: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..pages.len()).collect();
    order.sort_by_key(|&t| (std::cmp::Reverse(pages[t]), t));
    let mut load = vec![0i64; readers.max(1)];
    let mut owner = vec![0; pages.len()];
    for t in order {
        let (reader, _) = load
            .iter()
            .enumerate()
            .min_by_key(|&(r, l)| (*l, r))
            .unwrap_or((0, &0));
        owner[t] = reader;
        load[reader] += pages[t].max(1);
    }
    owner
}

impl Readers {
    /// Waits for every reader to finish (each has sent its last batches by then).
    pub async fn finish(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Reads `windows` through `client` inside `snapshot`: always a window whose cursor has room
/// for another batch, so a cursor the merge waits on is never stuck behind one it does not.
/// Returns early, without error, when the coordinator stops reading.
async fn read(
    mut client: Client,
    snapshot: &str,
    windows: &[Window],
    fetch_rows: i32,
) -> Result<(), ExtractError> {
    let tx = read_only_snapshot(&mut client, "opening a reader's transaction").await?;
    tx.batch_execute(&format!(
        "SET TRANSACTION SNAPSHOT '{}'",
        snapshot.replace('\'', "''")
    ))
    .await
    .map_err(ExtractError::query("importing the snapshot into a reader"))?;
    let mut open = Vec::with_capacity(windows.len());
    for window in windows {
        open.push((window, bind(&tx, window).await?));
    }
    while !open.is_empty() {
        let (reserved, i, others) =
            select_all(open.iter().map(|(w, _)| Box::pin(w.batches.reserve()))).await;
        drop(others);
        let Ok(permit) = reserved else {
            // The coordinator stopped reading (a deadline, a run limit, an error): so do we.
            return Ok(());
        };
        let (window, portal) = &open[i];
        let rows = tx
            .query_portal(portal, fetch_rows)
            .await
            .map_err(ExtractError::query(format!(
                "reading {}",
                window.table.name
            )))?;
        let last = rows.len() < fetch_rows as usize;
        permit.send((rows, last));
        if last {
            open.remove(i);
        } else {
            // Round robin among the windows with room.
            open.rotate_left(i + 1);
        }
    }
    tx.commit()
        .await
        .map_err(ExtractError::query("closing a reader's transaction"))
}

/// A `REPEATABLE READ READ ONLY` transaction: its first statement takes the snapshot, or
/// `SET TRANSACTION SNAPSHOT` imports the coordinator's.
pub(crate) async fn read_only_snapshot<'c>(
    client: &'c mut Client,
    step: &'static str,
) -> Result<Transaction<'c>, ExtractError> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(ExtractError::query(step))
}

/// Binds the read's query: Postgres plans it now (and sorts a window at the first fetch).
async fn bind(tx: &Transaction<'_>, window: &Window) -> Result<Portal, ExtractError> {
    let name = window.table.name;
    let sql = match window.read {
        Read::ByTime { .. } => sql::window_rows(window.table),
        Read::ByKey { .. } => sql::first_load_rows(window.table),
    };
    let statement = tx
        .prepare(&sql)
        .await
        .map_err(ExtractError::query(format!("preparing the read of {name}")))?;
    let bound = match window.read {
        Read::ByTime { from, resume } => {
            let from = from.map(|t| t.naive_utc());
            tx.bind(
                &statement,
                &[&from, &window.to, &resume.include_equal, &resume.key_after],
            )
            .await
        }
        Read::ByKey { after } => tx.bind(&statement, &[&after, &window.to]).await,
    };
    bound.map_err(ExtractError::query(format!("opening the read of {name}")))
}

/// The cursor whose head row comes next in `last_updated` order, `None` when all are drained.
/// Every cursor is filled first: the first call waits for the readers' first fetches, where
/// Postgres sorts.
pub(crate) async fn next_cursor(cursors: &mut [Cursor]) -> Result<Option<usize>, ExtractError> {
    let mut best: Option<(PgMicros, usize)> = None;
    for (i, cursor) in cursors.iter_mut().enumerate() {
        cursor.fill().await?;
        if let Some(head) = cursor.peek()
            && best.is_none_or(|(b, _)| head < b)
        {
            best = Some((head, i));
        }
    }
    Ok(best.map(|(_, i)| i))
}

/// The cursor to take the next row from, a batch at a time: the one whose turn it is while its
/// batch lasts, then the next in `tables` order that has rows. `None` when all are done. The
/// order depends only on the batches, so the runs do not depend on the number of readers.
pub(crate) async fn next_in_turn(
    cursors: &mut [Cursor],
    turn: &mut usize,
) -> Result<Option<usize>, ExtractError> {
    if cursors.get(*turn).is_some_and(|c| !c.buffer.is_empty()) {
        return Ok(Some(*turn));
    }
    for step in 1..=cursors.len() {
        let i = (*turn + step) % cursors.len();
        cursors[i].fill().await?;
        if !cursors[i].buffer.is_empty() {
            *turn = i;
            return Ok(Some(i));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_tables_go_to_different_readers() {
        let pages = [10, 5_000, 4_000, 20, 3_000, 1];
        let owners = assign(&pages, 2);
        assert_ne!(owners[1], owners[2], "{owners:?}");
        // The third largest joins the lighter reader: 5,000 pages against 4,000 + 3,000.
        assert_eq!(owners[4], owners[2], "{owners:?}");
        assert_eq!(assign(&pages, 1).into_iter().max(), Some(0));
    }
}
