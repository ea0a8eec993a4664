//! The datalake's resources as the contract (`openapi.yaml`) shows them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Records a chunk item holds at most, in serialized bytes: a batch of up to 1 MiB is
/// stored as a few items of one transaction, each under DynamoDB's 400 KB item limit.
pub const CHUNK_BYTES: usize = 350_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    pub id: String,
    pub name: String,
    pub schema: Value,
    pub retention_days: u32,
    pub record_count: u64,
    pub created_by: String,
    pub created_at: String,
}

#[derive(Debug, Deserialize)]
pub struct CreateDataset {
    pub name: String,
    pub schema: Value,
    #[serde(default = "default_retention")]
    pub retention_days: u32,
}

fn default_retention() -> u32 {
    30
}

#[derive(Debug, Deserialize)]
pub struct RecordBatch {
    pub records: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ExportRequest {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// One record as read back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    /// `<batch id>.<index in the batch>`.
    pub id: String,
    pub ingested_at: String,
    pub data: Value,
}

/// Part of a batch, stored as one item: its records in order, from `first_index`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    pub batch_id: String,
    pub ingested_at_ms: i64,
    pub seq: usize,
    pub first_index: usize,
    pub records: Vec<Value>,
}

impl Chunk {
    /// The chunk's records with their ids and time.
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        let at = stackpro_runtime::time::rfc3339(self.ingested_at_ms);
        self.records
            .iter()
            .enumerate()
            .map(move |(i, data)| Record {
                id: format!("{}.{}", self.batch_id, self.first_index + i),
                ingested_at: at.clone(),
                data: data.clone(),
            })
    }
}

/// Splits a batch into chunks of at most [`CHUNK_BYTES`] serialized bytes each.
/// The millisecond a batch was ingested at: the 48-bit Unix time a UUID v7 starts
/// with (a batch id is one).
pub fn batch_millis(batch_id: &str) -> i64 {
    let hex: String = batch_id.chars().filter(|c| *c != '-').take(12).collect();
    i64::from_str_radix(&hex, 16).unwrap_or(0)
}

/// A record cursor `<batch>.<index>` as (batch, its millisecond, index); the contract's
/// pattern has checked its form.
pub fn record_position(cursor: &str) -> Option<(&str, i64, usize)> {
    let (batch, index) = cursor.split_once('.')?;
    Some((batch, batch_millis(batch), index.parse().ok()?))
}

pub fn chunks(batch_id: &str, ingested_at_ms: i64, records: Vec<Value>) -> Vec<Chunk> {
    let mut out: Vec<Chunk> = Vec::new();
    let mut size = 0;
    for (i, r) in records.into_iter().enumerate() {
        let len = r.to_string().len() + 1;
        match out.last_mut() {
            Some(c) if size + len <= CHUNK_BYTES => c.records.push(r),
            _ => {
                size = 0;
                let (batch_id, seq) = (batch_id.to_string(), out.len());
                out.push(Chunk {
                    batch_id,
                    ingested_at_ms,
                    seq,
                    first_index: i,
                    records: vec![r],
                });
            }
        }
        size += len;
    }
    out
}

/// A page of a listing; `next_cursor` is opaque to clients.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn batches_split_into_chunks_under_the_item_limit_in_order() {
        let big = "x".repeat(100_000);
        let records: Vec<Value> = (0..9).map(|i| json!({"i": i, "pad": big})).collect();
        let cs = chunks("b", 5, records);
        assert_eq!(cs.len(), 3);
        assert_eq!(
            cs.iter().map(|c| c.first_index).collect::<Vec<_>>(),
            [0, 3, 6]
        );
        assert!(cs.iter().all(|c| c
            .records
            .iter()
            .map(|r| r.to_string().len() + 1)
            .sum::<usize>()
            <= CHUNK_BYTES));
        let ids: Vec<String> = cs.iter().flat_map(|c| c.records()).map(|r| r.id).collect();
        assert_eq!(ids.first().map(String::as_str), Some("b.0"));
        assert_eq!(ids.last().map(String::as_str), Some("b.8"));
        assert_eq!(chunks("b", 5, vec![json!(1), json!(2)]).len(), 1);
    }
}
