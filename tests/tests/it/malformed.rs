//! Malformed configuration, one mistake at a time in a copy of the project: each gets
//! its exact message (file, line, column, what is wrong, what to do), exit code 2, and
//! no panic.

use stackpro_tests::ProjectCopy;

use crate::cli::stackpro;

struct Case {
    name: &'static str,
    file: &'static str,
    from: &'static str,
    to: &'static str,
    env: &'static str,
    /// Lines stderr must contain, exactly.
    expect: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "unknown key in an env file",
        file: "envs/sandbox.yaml",
        from: "region: eu-west-1",
        to: "regoin: eu-west-1",
        env: "sandbox",
        expect: &["error: envs/sandbox.yaml:2:1: unknown field `regoin`, expected one of `region`, `account_id`, `endpoint_url`, `lambda`, `log_retention_days`, `alarms`, `flags`, `tags`, `termination_protection`, `fast_paths`, `deployment_mode`"],
    },
    Case {
        name: "wrong type",
        file: "envs/sandbox.yaml",
        from: "memory_mb: 128",
        to: "memory_mb: big",
        env: "sandbox",
        expect: &["error: envs/sandbox.yaml:5:14: lambda.memory_mb: invalid type: string \"big\", expected u32"],
    },
    Case {
        name: "missing value",
        file: "envs/sandbox.yaml",
        from: "log_retention_days: 14\n",
        to: "",
        env: "sandbox",
        expect: &["error: envs/sandbox.yaml:2:1: missing field `log_retention_days`"],
    },
    Case {
        name: "YAML syntax error",
        file: "envs/sandbox.yaml",
        from: "  memory_mb: 128",
        to: "  memory_mb: \"128",
        env: "sandbox",
        expect: &["error: envs/sandbox.yaml:49:1: found unexpected end of stream at line 49 column 1, while scanning a quoted scalar at line 5 column 14"],
    },
    Case {
        name: "express mode in a protected environment",
        file: "envs/production.yaml",
        from: "termination_protection: true",
        to: "termination_protection: true\ndeployment_mode: express",
        env: "production",
        expect: &[
            "error: envs/production.yaml:41:1: express mode is refused for a protected environment (termination_protection: true): it reports a stack operation complete before its resources are ready",
            "help: remove `deployment_mode: express` here; it is for sandboxes",
        ],
    },
    Case {
        name: "region that is not a region",
        file: "envs/sandbox.yaml",
        from: "region: eu-west-1",
        to: "region: Ireland",
        env: "sandbox",
        expect: &[
            "error: envs/sandbox.yaml:2:1: `Ireland` is not an AWS region name",
            "help: write a region such as eu-west-1 or us-east-1",
        ],
    },
    Case {
        name: "account id written as a mapping",
        file: "envs/production.yaml",
        from: "account_id: \"123456789012\"",
        to: "account_id: { id: 123456789012 }",
        env: "production",
        expect: &["error: envs/production.yaml:4:13: account_id: invalid type: map, expected a string"],
    },
    Case {
        name: "account id of the wrong length",
        file: "envs/production.yaml",
        from: "account_id: \"123456789012\"",
        to: "account_id: \"12345678901\"",
        env: "production",
        expect: &["error: envs/production.yaml:4:1: account_id `12345678901` is not a 12-digit AWS account id"],
    },
    Case {
        name: "memory Lambda does not offer",
        file: "envs/sandbox.yaml",
        from: "memory_mb: 128",
        to: "memory_mb: 64",
        env: "sandbox",
        expect: &["error: envs/sandbox.yaml:5:3: lambda.memory_mb 64 is outside what Lambda allows (128 to 10240)"],
    },
    Case {
        name: "timeout beyond what the API waits",
        file: "envs/sandbox.yaml",
        from: "timeout_seconds: 10",
        to: "timeout_seconds: 60",
        env: "sandbox",
        expect: &[
            "error: envs/sandbox.yaml:6:3: lambda.timeout_seconds 60 is outside 1 to 30",
            "help: an HTTP API waits at most 30 s for its Lambda integration",
        ],
    },
    Case {
        name: "log retention CloudWatch does not offer",
        file: "envs/sandbox.yaml",
        from: "log_retention_days: 14",
        to: "log_retention_days: 10",
        env: "sandbox",
        expect: &[
            "error: envs/sandbox.yaml:20:1: log_retention_days 10 is not a retention CloudWatch Logs offers",
            "help: the nearest allowed value is 7; allowed: 1, 3, 5, 7, 14, 30,",
        ],
    },
    Case {
        name: "misspelt flag",
        file: "envs/sandbox.yaml",
        from: "CAP_MESSAGING_ENABLED: true",
        to: "CAP_MESAGING_ENABLED: true",
        env: "sandbox",
        expect: &[
            "error: envs/sandbox.yaml:29:5: unknown flag `CAP_MESAGING_ENABLED`",
            "help: did you mean `CAP_MESSAGING_ENABLED`?",
        ],
    },
    Case {
        name: "flag of the wrong type",
        file: "envs/sandbox.yaml",
        from: "CAP_MESSAGING_ENABLED: true",
        to: "CAP_MESSAGING_ENABLED: \"yes\"",
        env: "sandbox",
        expect: &["error: envs/sandbox.yaml:29:5: flag `CAP_MESSAGING_ENABLED`: expected true or false, found `yes`"],
    },
    Case {
        name: "version flag that is not a version",
        file: "envs/production.yaml",
        from: "CAP_AI_VERSION: v1",
        to: "CAP_AI_VERSION: latest",
        env: "production",
        expect: &["error: envs/production.yaml:34:5: flag `CAP_AI_VERSION`: expected a version such as v1 or v2, found `latest`"],
    },
    Case {
        name: "explicit environment missing a flag",
        file: "envs/production.yaml",
        from: "    CAP_BILLING_VERSION: v1\n",
        to: "",
        env: "production",
        expect: &[
            "error: envs/production.yaml:28:3: flag `CAP_BILLING_VERSION` is missing; environment production sets every flag explicitly",
            "help: add `CAP_BILLING_VERSION: ...` under flags.values, or set flags.explicit to false",
        ],
    },
    Case {
        name: "endpoint that is not a URL",
        file: "envs/local.yaml",
        from: "endpoint_url: http://127.0.0.1:5000",
        to: "endpoint_url: 127.0.0.1:5000",
        env: "local",
        expect: &["error: envs/local.yaml:4:1: endpoint_url `127.0.0.1:5000` is not an http:// or https:// URL"],
    },
    Case {
        name: "alarm threshold of zero",
        file: "envs/sandbox.yaml",
        from: "threshold_percent: 1,",
        to: "threshold_percent: 0,",
        env: "sandbox",
        expect: &["error: envs/sandbox.yaml:22:17: alarms.error_rate.threshold_percent 0 must be above 0 and at most 100"],
    },
    Case {
        name: "alarm target that is not an SNS topic",
        file: "envs/sandbox.yaml",
        from: "notify: []",
        to: "notify: [ops@example.com]",
        env: "sandbox",
        expect: &[
            "error: envs/sandbox.yaml:24:3: alarms.notify entry `ops@example.com` is not an SNS topic ARN",
            "help: write arn:aws:sns:<region>:<account>:<topic>",
        ],
    },
    Case {
        name: "reserved tag key",
        file: "envs/sandbox.yaml",
        from: "project: stackpro",
        to: "aws:project: stackpro",
        env: "sandbox",
        expect: &["error: envs/sandbox.yaml:31:3: tag key `aws:project` is not allowed (1 to 128 characters, not starting with aws:)"],
    },
    Case {
        name: "unknown key in a capability",
        file: "handlers/messaging/capability.yaml",
        from: "tables:",
        to: "tabels:",
        env: "sandbox",
        expect: &["error: handlers/messaging/capability.yaml:9:1: unknown field `tabels`, expected one of `description`, `handler`, `routes`, `tables`, `buckets`, `iam`, `alarms`, `lambda`, `flags`"],
    },
    Case {
        name: "route with an unknown method",
        file: "handlers/billing/capability.yaml",
        from: "  - GET /v1/usage\n",
        to: "  - FETCH /v1/usage\n",
        env: "sandbox",
        expect: &[
            "error: handlers/billing/capability.yaml:9:5: route `FETCH /v1/usage` has an unknown method `FETCH` (expected one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, ANY)",
            "help: write a route as `METHOD /path`, e.g. `GET /v1/threads/{thread_id}`",
        ],
    },
    Case {
        name: "route declared twice",
        file: "handlers/billing/capability.yaml",
        from: "  - POST /v1/usage\n",
        to: "  - GET /v1/usage\n",
        env: "sandbox",
        expect: &["error: handlers/billing/capability.yaml:8:5: route `GET /v1/usage` is declared twice"],
    },
    Case {
        name: "route list disagreeing with the contract",
        file: "handlers/messaging/capability.yaml",
        from: "tables:\n",
        to: "routes:\n  - GET /v1/health\n  - GET /v1/threads\n  - POST /v1/threads\n  - GET /v1/threads/{thread_id}\n  - GET /v1/threads/{thread_id}/messages\n  - DELETE /v1/threads/{thread_id}\ntables:\n",
        env: "sandbox",
        expect: &[
            "error: handlers/messaging/capability.yaml:9:1: `routes` disagrees with the contract handlers/messaging/openapi.yaml: `DELETE /v1/threads/{thread_id}` is only in handlers/messaging/capability.yaml; `POST /v1/threads/{thread_id}/messages` is only in handlers/messaging/openapi.yaml",
            "help: remove `routes:` from handlers/messaging/capability.yaml: a capability with a contract takes its routes from the contract's paths and methods",
        ],
    },
    Case {
        name: "contract that does not parse",
        file: "handlers/messaging/openapi.yaml",
        from: "  /v1/health:\n",
        to: "  /v1/health: {\n",
        env: "sandbox",
        expect: &["error: handlers/messaging/openapi.yaml:21:18: did not find expected ',' or '}' at line 21 column 18, while parsing a flow mapping at line 19 column 15"],
    },
    Case {
        name: "contract without paths",
        file: "handlers/messaging/openapi.yaml",
        from: "paths:\n",
        to: "routes:\n",
        env: "sandbox",
        expect: &["error: handlers/messaging/openapi.yaml:5:1: missing field `paths`"],
    },
    Case {
        name: "contract operation API Gateway cannot route",
        file: "handlers/messaging/openapi.yaml",
        from: "  /v1/health:\n    get:\n",
        to: "  /v1/health:\n    trace:\n      responses: {}\n    get:\n",
        env: "sandbox",
        expect: &[
            "error: handlers/messaging/openapi.yaml:20:5: operation `TRACE /v1/health` cannot be routed: API Gateway HTTP APIs have no TRACE route",
            "help: remove it from the contract; the handler answers TRACE with 405",
        ],
    },
    Case {
        name: "capability with neither a contract nor routes",
        file: "handlers/billing/capability.yaml",
        from: "routes:\n  - GET /v1/health\n  - POST /v1/usage\n  - GET /v1/usage\n  - GET /v1/invoices\n  - GET /v1/invoices/{invoice_id}\n",
        to: "",
        env: "sandbox",
        expect: &[
            "error: handlers/billing/capability.yaml:1:1: capability billing declares no routes: there is no contract handlers/billing/openapi.yaml and no `routes:` list",
            "help: write the OpenAPI contract handlers/billing/openapi.yaml (its paths and methods are the routes), or list the routes under `routes:` as `METHOD /path`",
        ],
    },
    Case {
        name: "IAM statement granting everything",
        file: "handlers/ai/capability.yaml",
        from: "      - \"arn:${AWS::Partition}:bedrock:*::foundation-model/*\"",
        to: "      - \"*\"",
        env: "sandbox",
        expect: &["error: handlers/ai/capability.yaml:33:5: IAM statement `InvokeFoundationModels` grants `*`; name the resources"],
    },
    Case {
        name: "a setting the capability does not declare",
        file: "envs/sandbox.yaml",
        from: "    model_small:",
        to: "    model_smal:",
        env: "sandbox",
        expect: &[
            "error: envs/sandbox.yaml:47:5: capability ai has no setting `model_smal`",
            "help: did you mean `model_small`?",
        ],
    },
    Case {
        name: "settings for a capability that does not exist",
        file: "envs/sandbox.yaml",
        from: "settings:\n  ai:",
        to: "settings:\n  aii:",
        env: "sandbox",
        expect: &[
            "error: envs/sandbox.yaml:45:3: settings for unknown capability `aii`",
            "help: did you mean `ai`?",
        ],
    },
    Case {
        name: "a setting whose default is a list",
        file: "handlers/ai/capability.yaml",
        from: "    default: 1024",
        to: "    default: [1024]",
        env: "sandbox",
        expect: &["error: handlers/ai/capability.yaml:65:5: setting `max_tokens`: the default must be a string, a number or a boolean"],
    },
    Case {
        name: "key attribute type DynamoDB does not have",
        file: "handlers/billing/capability.yaml",
        from: "  - name: usage\n    partition_key: { name: pk, type: S }",
        to: "  - name: usage\n    partition_key: { name: pk, type: string }",
        env: "sandbox",
        expect: &["error: handlers/billing/capability.yaml:14:38: tables[0].partition_key.type: unknown variant `string`, expected one of `S`, `N`, `B`"],
    },
    Case {
        name: "capability deciding its own ENABLED flag",
        file: "handlers/messaging/capability.yaml",
        from: "CAP_MESSAGING_VERSION: v1",
        to: "CAP_MESSAGING_ENABLED: true",
        env: "sandbox",
        expect: &[
            "error: handlers/messaging/capability.yaml:17:3: flag `CAP_MESSAGING_ENABLED` is decided per environment, not by the capability",
            "help: set CAP_MESSAGING_ENABLED under flags.values in envs/<env>.yaml",
        ],
    },
    Case {
        name: "capability declaring another capability's flag",
        file: "handlers/messaging/capability.yaml",
        from: "CAP_MESSAGING_VERSION: v1",
        to: "CAP_BILLING_VERSION: v1",
        env: "sandbox",
        expect: &["error: handlers/messaging/capability.yaml:17:3: flag `CAP_BILLING_VERSION` does not belong to capability messaging"],
    },
    Case {
        name: "bucket name too long for the longest region",
        file: "handlers/datalake/capability.yaml",
        from: "  - name: export\n",
        to: "  - name: exports\n",
        env: "production",
        expect: &[
            "error: handlers/datalake/capability.yaml:22:5: bucket `exports` would be named stackpro-datalake-production-exports-<account>-<region>, 64 characters in environment production with a 14-character region such as ap-southeast-1; S3 allows 63",
            "help: shorten the bucket name to at most 6 characters",
        ],
    },
    Case {
        name: "bucket name S3 does not accept",
        file: "handlers/datalake/capability.yaml",
        from: "  - name: export\n",
        to: "  - name: Export_1\n",
        env: "sandbox",
        expect: &[
            "error: handlers/datalake/capability.yaml:22:5: bucket name `Export_1` has a character `E` that is not allowed",
            "help: use 1 to 24 lower-case letters, digits and `-`, starting with a letter and ending with a letter or digit (e.g. `export`)",
        ],
    },
    Case {
        name: "bucket declared twice",
        file: "handlers/datalake/capability.yaml",
        from: "partitioned by dataset and day\n",
        to: "partitioned by dataset and day\n  - { name: export, expire_days: 7 }\n",
        env: "sandbox",
        expect: &["error: handlers/datalake/capability.yaml:24:7: bucket `export` is declared twice"],
    },
    Case {
        name: "buckets whose CloudFormation ids collide",
        file: "handlers/datalake/capability.yaml",
        from: "  - name: export\n",
        to: "  - name: export\n  - name: export-policy\n",
        env: "sandbox",
        expect: &[
            "error: handlers/datalake/capability.yaml:23:5: buckets `export` and `export-policy` would share the CloudFormation logical id BucketExportPolicy",
            "help: rename one of them",
        ],
    },
    Case {
        name: "bucket expiring after zero days",
        file: "handlers/datalake/capability.yaml",
        from: "  - name: export\n",
        to: "  - name: export\n    expire_days: 0\n",
        env: "sandbox",
        expect: &["error: handlers/datalake/capability.yaml:23:5: bucket `export`: expire_days must be at least 1"],
    },
    Case {
        name: "misspelt bucket key",
        file: "handlers/datalake/capability.yaml",
        from: "  - name: export\n",
        to: "  - name: export\n    expires: 30\n",
        env: "sandbox",
        expect: &["error: handlers/datalake/capability.yaml:23:5: buckets[0]: unknown field `expires`, expected one of `name`, `expire_days`, `description`"],
    },
    Case {
        name: "empty env file",
        file: "envs/sandbox.yaml",
        from: "",
        to: "",
        env: "sandbox",
        expect: &["error: envs/sandbox.yaml:1:1: the file is empty; expected an environment definition"],
    },
    Case {
        name: "reserved concurrency of zero",
        file: "envs/sandbox.yaml",
        from: "reserved_concurrency: 10",
        to: "reserved_concurrency: 0",
        env: "sandbox",
        expect: &[
            "error: envs/sandbox.yaml:10:3: lambda.reserved_concurrency 0 is outside 1 to 100000",
            "help: 0 would stop the function from running; remove the line to leave it unreserved",
        ],
    },
    Case {
        name: "a tracing mode Lambda does not have",
        file: "envs/sandbox.yaml",
        from: "tracing: active",
        to: "tracing: on",
        env: "sandbox",
        expect: &["error: envs/sandbox.yaml:12:12: lambda.tracing: unknown variant `on`, expected `active` or `pass_through`"],
    },
    Case {
        name: "stage throttling of zero requests a second",
        file: "envs/production.yaml",
        from: "rate_per_second: 500",
        to: "rate_per_second: 0",
        env: "production",
        expect: &[
            "error: envs/production.yaml:15:15: api.throttle.rate_per_second 0 must be above 0 and at most 10000",
            "help: remove `api.throttle` to leave the account's default limits",
        ],
    },
];

#[test]
fn every_malformed_input_is_named_precisely_with_exit_code_2() {
    assert!(CASES.len() >= 15);
    let mut failures = Vec::new();
    for case in CASES {
        let project = ProjectCopy::new();
        if case.name == "empty env file" {
            project.write(case.file, "# nothing here yet\n");
        } else {
            project.edit(case.file, case.from, case.to);
        }
        // Both commands that read configuration must refuse it the same way.
        for args in [
            vec!["validate", "--no-lint", "--env", case.env],
            vec!["render", "--all", "--env", case.env],
        ] {
            let run = stackpro(project.path(), &args);
            let mut problems = Vec::new();
            if run.code != 2 {
                problems.push(format!("exit code {} instead of 2", run.code));
            }
            for line in case.expect {
                if !run.stderr.contains(line) {
                    problems.push(format!("missing `{line}`"));
                }
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "{} ({}): {}\n{}",
                    case.name,
                    args[0],
                    problems.join("; "),
                    run.stderr
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_malformed_file_leaves_earlier_output_untouched() {
    let project = ProjectCopy::new();
    let out = project.path().join("out");
    let out_str = out.to_str().unwrap();
    let ok = stackpro(
        project.path(),
        &["render", "--all", "--env", "sandbox", "--out", out_str],
    );
    assert_eq!(ok.code, 0, "{ok:?}");
    let before = std::fs::read_to_string(out.join("sandbox/messaging/template.yaml")).unwrap();
    project.edit("envs/sandbox.yaml", "memory_mb: 128", "memory_mb: big");
    let bad = stackpro(
        project.path(),
        &["render", "--all", "--env", "sandbox", "--out", out_str],
    );
    assert_eq!(bad.code, 2, "{bad:?}");
    let after = std::fs::read_to_string(out.join("sandbox/messaging/template.yaml")).unwrap();
    assert_eq!(
        before, after,
        "a failed render must not overwrite what was rendered before"
    );
}
