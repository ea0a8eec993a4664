//! S3 for capabilities that declare a bucket in `capability.yaml` (feature `s3`, so the
//! capabilities without one do not carry the S3 client in their zip).

use crate::store::StoreError;
use crate::Failure;

/// One of the capability's buckets; the client is built once per instance.
#[derive(Clone)]
pub struct Bucket {
    client: aws_sdk_s3::Client,
    name: String,
}

impl Bucket {
    pub fn new(client: aws_sdk_s3::Client, name: impl Into<String>) -> Self {
        Bucket {
            client,
            name: name.into(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes one object; an unreachable S3 is [`StoreError::Unavailable`] (503).
    pub async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.name)
            .key(key)
            .content_type(content_type)
            .body(body.into())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                let text = format!(
                    "put s3://{}/{key}: {}",
                    self.name,
                    crate::describe_sdk_error(&e)
                );
                match crate::classify(&e) {
                    Failure::Service(_) => StoreError::Other(text),
                    _ => StoreError::Unavailable(text),
                }
            })
    }
}
