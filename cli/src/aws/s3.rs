//! S3: the artifact bucket's objects (artifacts and stored templates).

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use super::AwsContext;
use crate::error::{Error, Result};

fn client(ctx: &AwsContext) -> &aws_sdk_s3::Client {
    super::sdk_client!(ctx, s3, aws_sdk_s3, "s3")
}

fn is_not_found<E: aws_sdk_s3::error::ProvideErrorMetadata>(
    err: &aws_sdk_s3::error::SdkError<E, HttpResponse>,
) -> bool {
    // HeadObject and HeadBucket answers have no body to carry an error code: only the
    // status says "not found".
    err.as_service_error()
        .and_then(aws_sdk_s3::error::ProvideErrorMetadata::code)
        .is_some_and(|c| c == "NotFound" || c == "NoSuchKey" || c == "NoSuchBucket")
        || err
            .raw_response()
            .is_some_and(|r| r.status().as_u16() == 404)
}

/// Whether the bucket exists.
pub async fn bucket_exists(ctx: &AwsContext, bucket: &str) -> Result<bool> {
    match client(ctx).head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(true),
        Err(err) if is_not_found(&err) => Ok(false),
        Err(err) => Err(ctx.error("s3", "HeadBucket", bucket, err)),
    }
}

/// Creates a bucket in `region` (a local emulator's, for `stackpro dev`).
pub async fn create_bucket(ctx: &AwsContext, bucket: &str, region: &str) -> Result<()> {
    let mut create = client(ctx).create_bucket().bucket(bucket);
    // us-east-1 is the one region that takes no location constraint.
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        );
    }
    create
        .send()
        .await
        .map(|_| ())
        .map_err(|e| ctx.error("s3", "CreateBucket", bucket, e))
}

/// The object's user metadata, or `None` when there is no such object.
pub async fn object_metadata(
    ctx: &AwsContext,
    bucket: &str,
    key: &str,
) -> Result<Option<HashMap<String, String>>> {
    match client(ctx)
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
    {
        Ok(head) => Ok(Some(head.metadata().cloned().unwrap_or_default())),
        Err(err) if is_not_found(&err) => Ok(None),
        Err(err) => Err(ctx.error("s3", "HeadObject", &format!("s3://{bucket}/{key}"), err)),
    }
}

/// What a put found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Stored,
    NoSuchBucket,
}

/// The timeouts of a call that moves an object's bytes ([`super::CallKind::Transfer`]).
fn transfer() -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::default().timeout_config(super::CallKind::Transfer.timeouts())
}

/// Stores an object with its content type and user metadata.
pub async fn put_object(
    ctx: &AwsContext,
    bucket: &str,
    key: &str,
    body: ByteStream,
    content_type: &str,
    metadata: &[(&str, &str)],
) -> Result<Put> {
    let mut put = client(ctx)
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body)
        .content_type(content_type);
    for (k, v) in metadata {
        put = put.metadata(*k, *v);
    }
    match put.customize().config_override(transfer()).send().await {
        Ok(_) => Ok(Put::Stored),
        Err(err)
            if err
                .as_service_error()
                .and_then(aws_sdk_s3::error::ProvideErrorMetadata::code)
                == Some("NoSuchBucket") =>
        {
            Ok(Put::NoSuchBucket)
        }
        Err(err) => Err(ctx.error("s3", "PutObject", &format!("s3://{bucket}/{key}"), err)),
    }
}

/// An object's bytes.
pub async fn get_object(ctx: &AwsContext, bucket: &str, key: &str) -> Result<Vec<u8>> {
    let target = format!("s3://{bucket}/{key}");
    let object = client(ctx)
        .get_object()
        .bucket(bucket)
        .key(key)
        .customize()
        .config_override(transfer())
        .send()
        .await
        .map_err(|e| ctx.error("s3", "GetObject", &target, e))?;
    let bytes = object.body.collect().await.map_err(|e| Error::Aws {
        operation: "GetObject",
        target,
        detail: e.to_string(),
    })?;
    Ok(bytes.into_bytes().to_vec())
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub bytes: i64,
    /// Seconds since the Unix epoch.
    pub last_modified: i64,
}

/// Every object under `prefix` (all pages of ListObjectsV2).
pub async fn list_objects(ctx: &AwsContext, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>> {
    let mut pages = client(ctx)
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(|e| ctx.error("s3", "ListObjectsV2", &format!("s3://{bucket}/{prefix}"), e))?;
        out.extend(page.contents().iter().filter_map(|o| {
            Some(ObjectInfo {
                key: o.key()?.to_string(),
                bytes: o.size().unwrap_or(0),
                last_modified: o.last_modified().map_or(0, |t| t.secs()),
            })
        }));
    }
    Ok(out)
}

/// Deletes `keys` (DeleteObjects, up to 1,000 a request); the keys S3 could not delete,
/// each with its reason. In a versioned bucket this leaves the data as a noncurrent
/// version, which the bucket's lifecycle rule expires.
pub async fn delete_objects(
    ctx: &AwsContext,
    bucket: &str,
    keys: &[String],
) -> Result<Vec<(String, String)>> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let mut failed = Vec::new();
    for chunk in keys.chunks(1000) {
        let objects = chunk
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Aws {
                operation: "DeleteObjects",
                target: format!("s3://{bucket}"),
                detail: e.to_string(),
            })?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| Error::Aws {
                operation: "DeleteObjects",
                target: format!("s3://{bucket}"),
                detail: e.to_string(),
            })?;
        let out = client(ctx)
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| ctx.error("s3", "DeleteObjects", &format!("s3://{bucket}"), e))?;
        failed.extend(out.errors().iter().map(|e| {
            (
                e.key().unwrap_or_default().to_string(),
                format!(
                    "{}: {}",
                    e.code().unwrap_or("error"),
                    e.message().unwrap_or_default()
                ),
            )
        }));
    }
    Ok(failed)
}
