//! Exports: a dataset's records written to the capability's bucket as gzipped JSON
//! Lines, one object per ingestion day, under
//! `tenant=<tenant>/dataset=<id>/dt=YYYY-MM-DD/part-<export id>.json.gz`: the Hive-style
//! partitions Athena (and Glue crawlers) read as they are.

use std::collections::BTreeMap;
use std::io::Write as _;

use serde_json::json;

use crate::model::Record;

/// One object of an export.
pub struct Object {
    pub key: String,
    pub records: usize,
    pub body: Vec<u8>,
}

/// The export's objects: the records grouped by ingestion day, each a gzipped JSON
/// Lines file whose lines are `{"id", "dataset_id", "ingested_at", "data"}`.
pub fn objects(
    tenant: &str,
    dataset_id: &str,
    export_id: &str,
    records: impl IntoIterator<Item = Record>,
) -> std::io::Result<Vec<Object>> {
    let mut days: BTreeMap<String, (usize, flate2::write::GzEncoder<Vec<u8>>)> = BTreeMap::new();
    for r in records {
        let day = r.ingested_at.get(..10).unwrap_or("unknown").to_string();
        let (n, gz) = days.entry(day).or_insert_with(|| {
            (
                0,
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()),
            )
        });
        let line = json!({
            "id": r.id, "dataset_id": dataset_id, "ingested_at": r.ingested_at, "data": r.data,
        });
        serde_json::to_writer(&mut *gz, &line)?;
        gz.write_all(b"\n")?;
        *n += 1;
    }
    days.into_iter()
        .map(|(day, (records, gz))| {
            Ok(Object {
                key: format!(
                    "tenant={tenant}/dataset={dataset_id}/dt={day}/part-{export_id}.json.gz"
                ),
                records,
                body: gz.finish()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::io::Read;

    #[test]
    fn one_gzipped_json_lines_object_per_day() {
        let rec = |id: &str, at: &str| Record {
            id: id.into(),
            ingested_at: at.into(),
            data: json!({"v": id}),
        };
        let objs = objects(
            "acme",
            "d1",
            "e1",
            [
                rec("b.0", "2026-11-29T23:59:59.999Z"),
                rec("b.1", "2026-11-30T00:00:00Z"),
                rec("c.0", "2026-11-30T10:00:00Z"),
            ],
        )
        .unwrap();
        let keys: Vec<&str> = objs.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "tenant=acme/dataset=d1/dt=2026-11-29/part-e1.json.gz",
                "tenant=acme/dataset=d1/dt=2026-11-30/part-e1.json.gz"
            ]
        );
        let mut text = String::new();
        flate2::read::GzDecoder::new(&objs[1].body[..])
            .read_to_string(&mut text)
            .unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(objs[1].records, 2);
        assert_eq!(lines[1]["id"], "c.0");
        assert_eq!(lines[1]["data"]["v"], "c.0");
        assert_eq!(lines[0]["dataset_id"], "d1");
    }
}
