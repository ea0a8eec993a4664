//! DynamoDB: whether a table exists, and creating one on a local emulator (`stackpro dev`).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

use super::AwsContext;
use crate::error::{Error, Result};

fn client(ctx: &AwsContext) -> &aws_sdk_dynamodb::Client {
    super::sdk_client!(ctx, dynamodb, aws_sdk_dynamodb, "dynamodb")
}

/// Whether the table exists.
pub async fn table_exists(ctx: &AwsContext, name: &str) -> Result<bool> {
    match client(ctx).describe_table().table_name(name).send().await {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(ctx.error("dynamodb", "DescribeTable", name, e)),
    }
}

/// Creates an on-demand table with these key attributes (partition key first).
pub async fn create_table(
    ctx: &AwsContext,
    name: &str,
    keys: &[(String, ScalarAttributeType, KeyType)],
) -> Result<()> {
    let mut create = client(ctx)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for (attribute, kind, key_type) in keys {
        create = create
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(attribute)
                    .attribute_type(kind.clone())
                    .build()
                    .map_err(|e| Error::Failed(e.to_string()))?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(attribute)
                    .key_type(key_type.clone())
                    .build()
                    .map_err(|e| Error::Failed(e.to_string()))?,
            );
    }
    create
        .send()
        .await
        .map_err(|e| ctx.error("dynamodb", "CreateTable", name, e))?;
    Ok(())
}
