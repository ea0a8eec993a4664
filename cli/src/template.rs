//! Reading a CloudFormation template as deployed (no network): JSON, or YAML with the
//! short-form intrinsic tags (`!Ref`, `!Sub`, `!GetAtt a.b`, `!If`, ...) that another
//! tool may have deployed, turned into their long JSON form so the local diff compares
//! like with like. A template that cannot be read is an error, never `null`: the
//! data-loss guard must not silently see every resource as new.

use serde_json::{Map, Number, Value};
use serde_yaml::Value as Yaml;

/// Parses a template's text (JSON or YAML, short-form tags allowed) into its JSON form.
pub fn parse(text: &str) -> Result<Value, String> {
    let yaml: Yaml = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    let value = to_json(yaml)?;
    if !value.is_object() {
        return Err("the template is not a mapping".into());
    }
    Ok(value)
}

fn to_json(yaml: Yaml) -> Result<Value, String> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => number(&n)?,
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => {
            Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Yaml::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    other => return Err(format!("a mapping key that is not a scalar: {other:?}")),
                };
                out.insert(key, to_json(v)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(tagged) => intrinsic(&tagged.tag.to_string(), tagged.value)?,
    })
}

fn number(n: &serde_yaml::Number) -> Result<Value, String> {
    if let Some(i) = n.as_i64() {
        Ok(Value::from(i))
    } else if let Some(u) = n.as_u64() {
        Ok(Value::from(u))
    } else {
        n.as_f64()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("a number JSON cannot hold: {n}"))
    }
}

/// `!Ref x` -> `{"Ref": x}`, `!Condition x` -> `{"Condition": x}`, `!GetAtt a.b` ->
/// `{"Fn::GetAtt": ["a", "b"]}`, every other `!Name v` -> `{"Fn::Name": v}`.
fn intrinsic(tag: &str, value: Yaml) -> Result<Value, String> {
    let name = tag.trim_start_matches('!');
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!("an unknown tag `{tag}`"));
    }
    let inner = to_json(value)?;
    let (key, inner) = match name {
        "Ref" | "Condition" => (name.to_string(), inner),
        "GetAtt" => {
            let inner = match inner {
                Value::String(s) => match s.split_once('.') {
                    Some((resource, attribute)) => Value::Array(vec![
                        Value::String(resource.into()),
                        Value::String(attribute.into()),
                    ]),
                    None => return Err(format!("`!GetAtt {s}` names no attribute")),
                },
                other => other,
            };
            ("Fn::GetAtt".to_string(), inner)
        }
        _ => (format!("Fn::{name}"), inner),
    };
    Ok(Value::Object(Map::from_iter([(key, inner)])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_form_tags_read_as_their_long_form() {
        let text = r#"
Conditions:
  IsProd: !Equals [!Ref Env, production]
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-threads"
      Arn: !GetAtt Other.Arn
      Nested: !GetAtt [Other, Arn]
      Pick: !If [IsProd, !Select [0, !Split [",", !Ref List]], !Ref "AWS::NoValue"]
      Joined: !Join ["", [a, !ImportValue b]]
      Cond: !Condition IsProd
      Size: 5
      Ratio: 0.5
"#;
        let v = parse(text).unwrap();
        assert_eq!(
            v["Conditions"]["IsProd"],
            json!({"Fn::Equals": [{"Ref": "Env"}, "production"]})
        );
        let p = &v["Resources"]["Table"]["Properties"];
        assert_eq!(
            p["TableName"],
            json!({"Fn::Sub": "${AWS::StackName}-threads"})
        );
        assert_eq!(p["Arn"], json!({"Fn::GetAtt": ["Other", "Arn"]}));
        assert_eq!(p["Nested"], json!({"Fn::GetAtt": ["Other", "Arn"]}));
        assert_eq!(
            p["Pick"],
            json!({"Fn::If": ["IsProd", {"Fn::Select": [0, {"Fn::Split": [",", {"Ref": "List"}]}]}, {"Ref": "AWS::NoValue"}]})
        );
        assert_eq!(
            p["Joined"],
            json!({"Fn::Join": ["", ["a", {"Fn::ImportValue": "b"}]]})
        );
        assert_eq!(p["Cond"], json!({"Condition": "IsProd"}));
        assert_eq!(p["Size"], json!(5));
        assert_eq!(p["Ratio"], json!(0.5));
    }

    #[test]
    fn json_templates_and_long_forms_are_unchanged() {
        let text = r#"{"Resources": {"T": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "q"}}}}}"#;
        let v = parse(text).unwrap();
        assert_eq!(v, serde_json::from_str::<Value>(text).unwrap());
    }

    #[test]
    fn what_cannot_be_read_is_an_error_not_null() {
        assert!(parse("Resources: [unclosed").is_err());
        assert!(parse("just a string").is_err());
        assert!(parse("").is_err());
        assert!(parse("A: !GetAtt NoAttribute").is_err());
    }
}
