//! What an environment costs a month, estimated from its rendered templates and the
//! price file `cli/data/prices.yaml` (compiled in).
//!
//! Pure: no network. [`Inventory::of`] counts what one rendered template holds that
//! AWS bills by the month (dashboards, alarm metrics, customer-managed keys, log storage
//! at the retention set, advanced parameters) and the resources that cost nothing until
//! used; [`estimate`] prices an environment's inventories, applies the free tier once
//! per environment (one account each), and lists the per-use prices beside the fixed
//! figure, never inside it. Money is [`Usd`]: integers, no floats.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::money::Usd;

/// The price file, as compiled in.
pub const PRICES_FILE: &str = "cli/data/prices.yaml";
const PRICES_YAML: &str = include_str!("../data/prices.yaml");

/// EMF metrics each request publishes by (Environment, Capability)
/// (`stackpro_conventions::metrics::ALL`), and the ones also by (Environment, Capability,
/// Route) (`metrics::BY_ROUTE`).
const EMF_METRICS: u64 = stackpro_conventions::metrics::ALL.len() as u64;
const EMF_ROUTE_METRICS: u64 = stackpro_conventions::metrics::BY_ROUTE.len() as u64;

/// Days in the month the estimate prices (storage is billed per GB-month).
const DAYS_PER_MONTH: u128 = 30;
const MB_PER_GB: u128 = 1024;

/// One price: an amount per unit in the regions it is known for, with its source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub what: String,
    pub unit: String,
    /// Region -> decimal amount.
    pub usd: BTreeMap<String, String>,
    pub source: String,
    pub read_on: String,
}

/// One free-tier allowance (per account and month, all regions).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowance {
    pub what: String,
    pub quantity: u64,
    pub source: String,
    pub read_on: String,
}

/// What the estimate assumes where the templates cannot say.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Assumptions {
    pub log_ingest_mb_per_group_per_month: u64,
    pub lambda_average_duration_ms: u64,
    pub dynamodb_read_units_per_request: u64,
    pub dynamodb_write_units_per_request: u64,
}

/// The price file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceBook {
    pub read_on: String,
    pub prices: BTreeMap<String, Price>,
    pub free_tier: BTreeMap<String, Allowance>,
    pub assumptions: Assumptions,
}

/// Every price the estimator looks up; the price file must hold each for every region
/// it names (a unit test reads the compiled-in file).
const PRICE_KEYS: [&str; 18] = [
    "cloudwatch_dashboard",
    "cloudwatch_alarm_standard",
    "cloudwatch_alarm_high_resolution",
    "cloudwatch_custom_metric",
    "logs_ingestion",
    "logs_storage",
    "kms_key",
    "kms_requests",
    "ssm_parameter_advanced",
    "lambda_requests",
    "lambda_compute_x86_64",
    "lambda_compute_arm64",
    "http_api_requests",
    "dynamodb_write_request_units",
    "dynamodb_read_request_units",
    "dynamodb_storage",
    "s3_storage_standard",
    "xray_traces_recorded",
];

const ALLOWANCE_KEYS: [&str; 10] = [
    "cloudwatch_dashboards",
    "cloudwatch_alarm_metrics",
    "cloudwatch_custom_metrics",
    "logs_data_gb",
    "lambda_requests",
    "lambda_gb_seconds",
    "http_api_requests",
    "dynamodb_storage_gb",
    "kms_requests",
    "xray_traces",
];

impl PriceBook {
    /// The compiled-in price file, checked: every price the estimator uses, in every
    /// region of the file, as exact decimal text.
    pub fn builtin() -> Result<PriceBook> {
        PriceBook::parse(PRICES_YAML)
    }

    pub fn parse(text: &str) -> Result<PriceBook> {
        let broken = |message: String| Error::Failed(format!("{PRICES_FILE}: {message}"));
        let book: PriceBook = serde_yaml::from_str(text).map_err(|e| broken(e.to_string()))?;
        let regions = book.regions();
        for key in PRICE_KEYS {
            let price = book
                .prices
                .get(key)
                .ok_or_else(|| broken(format!("no price `{key}`")))?;
            for region in &regions {
                let amount = price
                    .usd
                    .get(region)
                    .ok_or_else(|| broken(format!("price `{key}` has no amount for {region}")))?;
                Usd::parse(amount)
                    .map_err(|e| broken(format!("price `{key}` in {region}: {e}")))?;
            }
        }
        for key in ALLOWANCE_KEYS {
            if !book.free_tier.contains_key(key) {
                return Err(broken(format!("no free-tier allowance `{key}`")));
            }
        }
        Ok(book)
    }

    /// Every region some price is given for.
    pub fn regions(&self) -> Vec<String> {
        let mut regions: Vec<String> = self
            .prices
            .values()
            .flat_map(|p| p.usd.keys().cloned())
            .collect();
        regions.sort();
        regions.dedup();
        regions
    }

    /// The prices of `region`, or an error naming the file and the regions it knows.
    pub fn for_region(&self, region: &str) -> Result<RegionPrices<'_>> {
        if !self.regions().iter().any(|r| r == region) {
            return Err(Error::Config {
                message: format!("{PRICES_FILE} has no prices for region {region}"),
                help: Some(format!(
                    "it knows {}; add {region}'s amounts from each entry's source page and rebuild",
                    self.regions().join(", ")
                )),
            });
        }
        Ok(RegionPrices {
            book: self,
            region: region.to_string(),
        })
    }
}

/// The prices of one region.
pub struct RegionPrices<'a> {
    book: &'a PriceBook,
    region: String,
}

impl RegionPrices<'_> {
    /// The amount of price `key` here (checked when the book was read).
    fn usd(&self, key: &str) -> Usd {
        self.book.prices[key]
            .usd
            .get(&self.region)
            .and_then(|a| Usd::parse(a).ok())
            .unwrap_or_else(|| panic!("price `{key}` checked in PriceBook::parse"))
    }

    fn unit(&self, key: &str) -> &str {
        &self.book.prices[key].unit
    }

    fn free(&self, key: &str) -> u64 {
        self.book.free_tier[key].quantity
    }
}

/// A Lambda function's billed shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
pub struct FunctionShape {
    pub memory_mb: u64,
    pub arm64: bool,
}

/// What one rendered template holds, as far as the bill goes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Inventory {
    pub dashboards: u64,
    /// Metrics read by standard-resolution alarms (a metric-math alarm counts each
    /// metric it reads).
    pub alarm_metrics_standard: u64,
    pub alarm_metrics_high_resolution: u64,
    pub kms_keys: u64,
    /// Each log group's retention in days.
    pub log_groups: Vec<u32>,
    pub ssm_parameters_standard: u64,
    pub ssm_parameters_advanced: u64,
    pub functions: Vec<FunctionShape>,
    pub traced_functions: u64,
    pub http_apis: u64,
    /// API routes (`$default` included): the values of the handlers' `Route` dimension.
    pub routes: u64,
    pub tables_on_demand: u64,
    pub buckets: u64,
    /// Resource types with no monthly charge of their own, and how many of each.
    pub free: BTreeMap<String, u64>,
    /// Resource types the estimator does not know how to price, or resources it cannot
    /// price as written (a provisioned table, a log group kept forever).
    pub not_priced: BTreeMap<String, u64>,
}

impl Inventory {
    /// Counts the resources of a rendered template (its `Resources`).
    pub fn of(template: &serde_json::Value) -> Inventory {
        let mut inv = Inventory::default();
        let Some(resources) = template.get("Resources").and_then(|r| r.as_object()) else {
            return inv;
        };
        for resource in resources.values() {
            let kind = resource.get("Type").and_then(|t| t.as_str()).unwrap_or("");
            let props = resource
                .get("Properties")
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            inv.count(kind, &props);
        }
        inv
    }

    fn count(&mut self, kind: &str, props: &serde_json::Value) {
        let text = |key: &str| props.get(key).and_then(|v| v.as_str());
        let free = match kind {
            "AWS::CloudWatch::Dashboard" => {
                self.dashboards += 1;
                false
            }
            "AWS::CloudWatch::Alarm" => {
                let (standard, high) = alarm_metrics(props);
                self.alarm_metrics_standard += standard;
                self.alarm_metrics_high_resolution += high;
                false
            }
            "AWS::KMS::Key" => {
                self.kms_keys += 1;
                false
            }
            "AWS::Logs::LogGroup" => {
                match props.get("RetentionInDays").and_then(|d| d.as_u64()) {
                    Some(days) => self.log_groups.push(days as u32),
                    None => self.not_priced(format!("{kind} (no RetentionInDays: kept forever)")),
                }
                false
            }
            "AWS::SSM::Parameter" if text("Tier") == Some("Advanced") => {
                self.ssm_parameters_advanced += 1;
                false
            }
            "AWS::SSM::Parameter" => {
                self.ssm_parameters_standard += 1;
                true
            }
            "AWS::Lambda::Function" => {
                self.functions.push(FunctionShape {
                    memory_mb: props
                        .get("MemorySize")
                        .and_then(|m| m.as_u64())
                        .unwrap_or(128),
                    arm64: props["Architectures"][0].as_str() == Some("arm64"),
                });
                if props["TracingConfig"]["Mode"].as_str() == Some("Active") {
                    self.traced_functions += 1;
                }
                true
            }
            "AWS::ApiGatewayV2::Api" => {
                self.http_apis += 1;
                true
            }
            "AWS::ApiGatewayV2::Route" => {
                self.routes += 1;
                true
            }
            "AWS::DynamoDB::Table" if text("BillingMode") == Some("PAY_PER_REQUEST") => {
                self.tables_on_demand += 1;
                true
            }
            "AWS::DynamoDB::Table" => {
                self.not_priced(format!("{kind} (provisioned capacity)"));
                false
            }
            "AWS::S3::Bucket" => {
                self.buckets += 1;
                true
            }
            kind if FREE_TYPES.iter().any(|(t, _)| *t == kind) => true,
            other => {
                self.not_priced(other.to_string());
                false
            }
        };
        if free {
            *self.free.entry(kind.to_string()).or_default() += 1;
        }
    }

    fn not_priced(&mut self, what: String) {
        *self.not_priced.entry(what).or_default() += 1;
    }

    fn add(&mut self, other: &Inventory) {
        self.dashboards += other.dashboards;
        self.alarm_metrics_standard += other.alarm_metrics_standard;
        self.alarm_metrics_high_resolution += other.alarm_metrics_high_resolution;
        self.kms_keys += other.kms_keys;
        self.log_groups.extend(&other.log_groups);
        self.ssm_parameters_standard += other.ssm_parameters_standard;
        self.ssm_parameters_advanced += other.ssm_parameters_advanced;
        self.functions.extend(&other.functions);
        self.traced_functions += other.traced_functions;
        self.http_apis += other.http_apis;
        self.routes += other.routes;
        self.tables_on_demand += other.tables_on_demand;
        self.buckets += other.buckets;
        for (k, n) in &other.free {
            *self.free.entry(k.clone()).or_default() += n;
        }
        for (k, n) in &other.not_priced {
            *self.not_priced.entry(k.clone()).or_default() += n;
        }
    }

    /// The handlers' EMF metrics when every route has traffic: six names by
    /// (Environment, Capability), three of them also by each route.
    fn custom_metrics(&self) -> u64 {
        if self.functions.is_empty() {
            return 0;
        }
        EMF_METRICS * self.functions.len() as u64 + EMF_ROUTE_METRICS * self.routes
    }
}

/// Resource types that cost nothing by the month (what they cost in use is under "per
/// use"), with why.
pub const FREE_TYPES: [(&str, &str); 16] = [
    ("AWS::IAM::Role", "IAM is free"),
    ("AWS::KMS::Alias", "aliases are free; the key is priced"),
    (
        "AWS::Lambda::Function",
        "billed per request and GB-second (no provisioned concurrency)",
    ),
    ("AWS::Lambda::Permission", "free"),
    ("AWS::Lambda::Version", "free; billed per use"),
    ("AWS::Lambda::Alias", "free; billed per use"),
    ("AWS::ApiGatewayV2::Api", "HTTP APIs are billed per request"),
    ("AWS::ApiGatewayV2::Integration", "free"),
    ("AWS::ApiGatewayV2::Route", "free"),
    ("AWS::ApiGatewayV2::Stage", "free (no cache on HTTP APIs)"),
    (
        "AWS::DynamoDB::Table",
        "on-demand: billed per request unit and stored GB",
    ),
    ("AWS::S3::Bucket", "billed per stored GB and request"),
    ("AWS::S3::BucketPolicy", "free"),
    ("AWS::SSM::Parameter", "standard parameters are free"),
    (
        "AWS::Logs::LogGroup",
        "the group is free; its storage is priced at its retention",
    ),
    ("AWS::CloudFormation::WaitConditionHandle", "free"),
];

fn why_free(kind: &str) -> &'static str {
    FREE_TYPES
        .iter()
        .find(|(t, _)| *t == kind)
        .map_or("free", |(_, why)| why)
}

/// The metrics an alarm reads, by resolution: one for a single-metric alarm, one per
/// `MetricStat` for a metric-math alarm. A period under 60 s is high resolution.
fn alarm_metrics(props: &serde_json::Value) -> (u64, u64) {
    let periods: Vec<u64> = match props.get("Metrics").and_then(|m| m.as_array()) {
        Some(metrics) => metrics
            .iter()
            .filter_map(|m| m.get("MetricStat"))
            .map(|stat| stat.get("Period").and_then(|p| p.as_u64()).unwrap_or(60))
            .collect(),
        None => vec![props.get("Period").and_then(|p| p.as_u64()).unwrap_or(60)],
    };
    let high = periods.iter().filter(|p| **p < 60).count() as u64;
    let periods = periods.len().max(1) as u64;
    (periods - high, high)
}

/// One line of a capability's bill, at list price (before the free tier).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Item {
    pub item: String,
    pub resource_type: &'static str,
    /// Decimal text, so no quantity is a float.
    pub quantity: String,
    pub unit: String,
    pub unit_usd: Usd,
    pub monthly_usd: Usd,
}

/// One line of the environment's fixed bill, after the free tier.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct EnvItem {
    pub item: String,
    pub quantity: String,
    pub free: String,
    pub billed: String,
    pub unit: String,
    pub unit_usd: Usd,
    pub monthly_usd: Usd,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CapabilityCost {
    pub capability: String,
    pub stack_name: String,
    pub items: Vec<Item>,
    /// The sum of the items, before the account's free tier.
    pub list_monthly_usd: Usd,
}

/// A price paid per use, never added to the fixed figure.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PerUse {
    pub item: String,
    pub price_usd: Usd,
    pub per: String,
    pub free_tier: Option<String>,
    /// What it comes to for the quantity named (with the assumptions stated).
    pub example: Option<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FreeResource {
    pub resource_type: String,
    pub count: u64,
    pub why: &'static str,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Budget {
    pub budget_usd: Usd,
    pub over: bool,
}

/// Where the prices came from.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PriceSource {
    pub file: &'static str,
    pub region: String,
    pub read_on: String,
    pub note: &'static str,
}

/// An environment's estimated monthly cost.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CostReport {
    pub environment: String,
    pub region: String,
    /// The environment runs on the local emulator, which bills nothing; the figures are
    /// what the same stacks would cost in AWS.
    pub emulator: bool,
    pub prices: PriceSource,
    pub capabilities: Vec<CapabilityCost>,
    pub fixed_items: Vec<EnvItem>,
    /// Every capability's list price, before the free tier.
    pub list_monthly_usd: Usd,
    /// The estimate: fixed monthly cost after the free tier (one account per environment).
    pub fixed_monthly_usd: Usd,
    pub budget: Option<Budget>,
    pub per_use: Vec<PerUse>,
    /// Per 1 million API requests a month: Lambda requests and compute, HTTP API and
    /// DynamoDB at the assumed request units, before any free tier.
    pub per_million_requests_usd: Usd,
    pub free_resources: Vec<FreeResource>,
    pub not_priced: BTreeMap<String, u64>,
    pub assumptions: Vec<String>,
}

/// One environment to estimate: its rendered templates, one per capability.
pub struct EnvInput<'a> {
    pub environment: &'a str,
    pub region: &'a str,
    pub emulator: bool,
    pub budget: Option<Usd>,
    /// (capability, stack name, rendered template)
    pub stacks: Vec<(&'a str, &'a str, &'a serde_json::Value)>,
}

/// Prices `input`'s templates.
pub fn estimate(book: &PriceBook, input: &EnvInput<'_>) -> Result<CostReport> {
    let prices = book.for_region(input.region)?;
    let a = &book.assumptions;
    let mut total = Inventory::default();
    let mut capabilities = Vec::new();
    for (capability, stack_name, template) in &input.stacks {
        let inv = Inventory::of(template);
        let items = capability_items(&prices, a, &inv);
        capabilities.push(CapabilityCost {
            capability: capability.to_string(),
            stack_name: stack_name.to_string(),
            list_monthly_usd: items.iter().map(|i| i.monthly_usd).sum(),
            items,
        });
        total.add(&inv);
    }
    let fixed_items = env_items(&prices, a, &total);
    let fixed: Usd = fixed_items.iter().map(|i| i.monthly_usd).sum();
    let (per_use, per_million) = per_use(&prices, a, &total);
    Ok(CostReport {
        environment: input.environment.to_string(),
        region: input.region.to_string(),
        emulator: input.emulator,
        prices: PriceSource {
            file: PRICES_FILE,
            region: input.region.to_string(),
            read_on: book.read_on.clone(),
            note: "AWS's published on-demand prices as known on that date, written down by hand: \
                   no network was available to query the Price List API; check the source pages",
        },
        list_monthly_usd: capabilities.iter().map(|c| c.list_monthly_usd).sum(),
        capabilities,
        fixed_items,
        fixed_monthly_usd: fixed,
        budget: input.budget.map(|budget| Budget {
            budget_usd: budget,
            over: fixed > budget,
        }),
        per_use,
        per_million_requests_usd: per_million,
        free_resources: total
            .free
            .iter()
            .map(|(kind, count)| FreeResource {
                resource_type: kind.clone(),
                count: *count,
                why: why_free(kind),
            })
            .collect(),
        not_priced: total.not_priced.clone(),
        assumptions: assumptions(book, input.emulator),
    })
}

/// Stored log data at steady state, in MB-days (MB kept x days kept), for groups that
/// each take `ingest_mb` a month and keep it for their retention.
fn stored_mb_days(retentions: &[u32], ingest_mb: u64) -> u128 {
    retentions
        .iter()
        .map(|days| u128::from(ingest_mb) * u128::from(*days))
        .sum()
}

const MB_DAYS_PER_GB_MONTH: u128 = MB_PER_GB * DAYS_PER_MONTH;

/// `mb_days` as GB-months with two decimals.
fn gb_months(mb_days: u128) -> String {
    let hundredths = (mb_days * 100 + MB_DAYS_PER_GB_MONTH / 2) / MB_DAYS_PER_GB_MONTH;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

fn capability_items(prices: &RegionPrices<'_>, a: &Assumptions, inv: &Inventory) -> Vec<Item> {
    let mut items = Vec::new();
    let mut count = |item: &str, kind: &'static str, key: &str, n: u64, always: bool| {
        if n > 0 || always {
            let unit_usd = prices.usd(key);
            items.push(Item {
                item: item.to_string(),
                resource_type: kind,
                quantity: n.to_string(),
                unit: prices.unit(key).to_string(),
                unit_usd,
                monthly_usd: unit_usd.times(n),
            });
        }
    };
    count(
        "dashboards",
        "AWS::CloudWatch::Dashboard",
        "cloudwatch_dashboard",
        inv.dashboards,
        true,
    );
    count(
        "alarm metrics (standard resolution)",
        "AWS::CloudWatch::Alarm",
        "cloudwatch_alarm_standard",
        inv.alarm_metrics_standard,
        true,
    );
    count(
        "alarm metrics (high resolution)",
        "AWS::CloudWatch::Alarm",
        "cloudwatch_alarm_high_resolution",
        inv.alarm_metrics_high_resolution,
        false,
    );
    count(
        "customer-managed KMS keys",
        "AWS::KMS::Key",
        "kms_key",
        inv.kms_keys,
        true,
    );
    count(
        "SSM advanced parameters",
        "AWS::SSM::Parameter",
        "ssm_parameter_advanced",
        inv.ssm_parameters_advanced,
        false,
    );
    if !inv.log_groups.is_empty() {
        let mb_days = stored_mb_days(&inv.log_groups, a.log_ingest_mb_per_group_per_month);
        let unit_usd = prices.usd("logs_storage");
        items.push(Item {
            item: format!(
                "log storage ({} groups, {})",
                inv.log_groups.len(),
                retention_text(&inv.log_groups)
            ),
            resource_type: "AWS::Logs::LogGroup",
            quantity: gb_months(mb_days),
            unit: prices.unit("logs_storage").to_string(),
            unit_usd,
            monthly_usd: unit_usd.times_ratio(mb_days, MB_DAYS_PER_GB_MONTH),
        });
    }
    items
}

fn retention_text(retentions: &[u32]) -> String {
    let mut days: Vec<u32> = retentions.to_vec();
    days.sort();
    days.dedup();
    let unit = if days == [1] { "day" } else { "days" };
    let days: Vec<String> = days.iter().map(u32::to_string).collect();
    format!("{} {unit} kept", days.join("/"))
}

/// The environment's fixed bill: every capability's resources together, less the free
/// tier (once: one account per environment).
fn env_items(prices: &RegionPrices<'_>, a: &Assumptions, total: &Inventory) -> Vec<EnvItem> {
    let mut items = Vec::new();
    let mut counted = |item: &str, key: &str, n: u64, free: u64, always: bool| {
        if n > 0 || always {
            let billed = n.saturating_sub(free);
            let unit_usd = prices.usd(key);
            items.push(EnvItem {
                item: item.to_string(),
                quantity: n.to_string(),
                free: free.to_string(),
                billed: billed.to_string(),
                unit: prices.unit(key).to_string(),
                unit_usd,
                monthly_usd: unit_usd.times(billed),
            });
        }
    };
    counted(
        "dashboards",
        "cloudwatch_dashboard",
        total.dashboards,
        prices.free("cloudwatch_dashboards"),
        true,
    );
    counted(
        "alarm metrics (standard resolution)",
        "cloudwatch_alarm_standard",
        total.alarm_metrics_standard,
        prices.free("cloudwatch_alarm_metrics"),
        true,
    );
    counted(
        "alarm metrics (high resolution)",
        "cloudwatch_alarm_high_resolution",
        total.alarm_metrics_high_resolution,
        0,
        false,
    );
    counted(
        "customer-managed KMS keys",
        "kms_key",
        total.kms_keys,
        0,
        true,
    );
    counted(
        "SSM advanced parameters",
        "ssm_parameter_advanced",
        total.ssm_parameters_advanced,
        0,
        false,
    );
    if !total.log_groups.is_empty() {
        items.push(log_storage_item(prices, a, &total.log_groups));
    }
    items
}

/// Log storage at steady state after the free tier's 5 GB of log data, which the
/// assumed ingestion uses first (it comes with every month's logs).
fn log_storage_item(prices: &RegionPrices<'_>, a: &Assumptions, groups: &[u32]) -> EnvItem {
    let ingest_mb = a.log_ingest_mb_per_group_per_month;
    let stored = stored_mb_days(groups, ingest_mb);
    let ingested = u128::from(ingest_mb) * groups.len() as u128 * DAYS_PER_MONTH;
    let allowance = u128::from(prices.free("logs_data_gb")) * MB_DAYS_PER_GB_MONTH;
    let free = allowance.saturating_sub(ingested).min(stored);
    let billed = stored - free;
    let unit_usd = prices.usd("logs_storage");
    EnvItem {
        item: format!(
            "log storage ({} groups, {})",
            groups.len(),
            retention_text(groups)
        ),
        quantity: gb_months(stored),
        free: gb_months(free),
        billed: gb_months(billed),
        unit: prices.unit("logs_storage").to_string(),
        unit_usd,
        monthly_usd: unit_usd.times_ratio(billed, MB_DAYS_PER_GB_MONTH),
    }
}

/// Prices paid per use, and what 1 million API requests come to before free tiers.
fn per_use(prices: &RegionPrices<'_>, a: &Assumptions, total: &Inventory) -> (Vec<PerUse>, Usd) {
    let free = |key: &str, what: &str| Some(format!("{} {what}", thousands(prices.free(key))));
    let mut lines = Vec::new();
    let lambda_requests = prices.usd("lambda_requests");
    lines.push(PerUse {
        item: "Lambda requests".into(),
        price_usd: lambda_requests,
        per: prices.unit("lambda_requests").into(),
        free_tier: free("lambda_requests", "requests a month"),
        example: None,
    });
    let mut shapes = total.functions.clone();
    shapes.sort();
    shapes.dedup();
    let mut per_million = lambda_requests;
    for shape in &shapes {
        let key = if shape.arm64 {
            "lambda_compute_arm64"
        } else {
            "lambda_compute_x86_64"
        };
        // GB-seconds of a million requests: 10^6 x duration_ms/1000 x memory_mb/1024.
        let compute = prices.usd(key).times_ratio(
            1_000 * u128::from(a.lambda_average_duration_ms) * u128::from(shape.memory_mb),
            1024,
        );
        per_million = per_million + compute;
        lines.push(PerUse {
            item: format!(
                "Lambda compute, {} MB {}",
                shape.memory_mb,
                if shape.arm64 { "arm64" } else { "x86_64" }
            ),
            price_usd: prices.usd(key),
            per: prices.unit(key).into(),
            free_tier: free("lambda_gb_seconds", "GB-seconds a month"),
            example: Some(format!(
                "{} per 1 million requests of {} ms",
                compute, a.lambda_average_duration_ms
            )),
        });
    }
    let http = prices.usd("http_api_requests");
    per_million = per_million + http;
    lines.push(PerUse {
        item: "HTTP API requests".into(),
        price_usd: http,
        per: prices.unit("http_api_requests").into(),
        free_tier: free(
            "http_api_requests",
            "requests a month, first 12 months of an account",
        ),
        example: None,
    });
    for (key, units, what) in [
        (
            "dynamodb_write_request_units",
            a.dynamodb_write_units_per_request,
            "write",
        ),
        (
            "dynamodb_read_request_units",
            a.dynamodb_read_units_per_request,
            "read",
        ),
    ] {
        let price = prices.usd(key);
        per_million = per_million + price.times(units);
        lines.push(PerUse {
            item: format!("DynamoDB on-demand {what} request units"),
            price_usd: price,
            per: prices.unit(key).into(),
            free_tier: None,
            example: Some(format!(
                "{} per 1 million API requests at {units} {what} unit(s) each",
                price.times(units)
            )),
        });
    }
    lines.extend(storage_and_telemetry(prices, a, total));
    (lines, per_million)
}

fn storage_and_telemetry(
    prices: &RegionPrices<'_>,
    a: &Assumptions,
    total: &Inventory,
) -> Vec<PerUse> {
    let free = |key: &str, what: &str| Some(format!("{} {what}", thousands(prices.free(key))));
    let mut lines = Vec::new();
    let ingestion = prices.usd("logs_ingestion");
    let ingest_mb = a.log_ingest_mb_per_group_per_month * total.log_groups.len() as u64;
    lines.push(PerUse {
        item: "CloudWatch Logs ingestion".into(),
        price_usd: ingestion,
        per: prices.unit("logs_ingestion").into(),
        free_tier: free(
            "logs_data_gb",
            "GB of log data a month, ingestion and storage together",
        ),
        example: Some(format!(
            "{} a month for the assumed {} MB over {} log groups, before the free tier",
            ingestion.times_ratio(u128::from(ingest_mb), MB_PER_GB),
            ingest_mb,
            total.log_groups.len()
        )),
    });
    let metrics = total.custom_metrics();
    if metrics > 0 {
        let price = prices.usd("cloudwatch_custom_metric");
        let billed = metrics.saturating_sub(prices.free("cloudwatch_custom_metrics"));
        lines.push(PerUse {
            item: "CloudWatch custom metrics (the handlers' EMF)".into(),
            price_usd: price,
            per: prices.unit("cloudwatch_custom_metric").into(),
            free_tier: free("cloudwatch_custom_metrics", "metrics a month"),
            example: Some(format!(
                "{} a month while every route has traffic every hour: {metrics} metrics ({EMF_METRICS} names per capability + {EMF_ROUTE_METRICS} for each of {} routes), {billed} beyond the free tier; pro-rated by the hour, nothing without traffic",
                price.times(billed),
                total.routes
            )),
        });
    }
    if total.traced_functions > 0 {
        lines.push(PerUse {
            item: "X-Ray traces recorded (tracing active)".into(),
            price_usd: prices.usd("xray_traces_recorded"),
            per: prices.unit("xray_traces_recorded").into(),
            free_tier: free("xray_traces", "traces a month"),
            example: Some("Lambda samples 1 request a second and 5% of the rest".into()),
        });
    }
    if total.kms_keys > 0 {
        lines.push(PerUse {
            item: "KMS requests (customer-managed keys)".into(),
            price_usd: prices.usd("kms_requests"),
            per: prices.unit("kms_requests").into(),
            free_tier: free("kms_requests", "requests a month"),
            example: None,
        });
    }
    if total.tables_on_demand > 0 {
        lines.push(PerUse {
            item: "DynamoDB storage".into(),
            price_usd: prices.usd("dynamodb_storage"),
            per: prices.unit("dynamodb_storage").into(),
            free_tier: free("dynamodb_storage_gb", "GB a month"),
            example: None,
        });
    }
    if total.buckets > 0 {
        lines.push(PerUse {
            item: "S3 Standard storage".into(),
            price_usd: prices.usd("s3_storage_standard"),
            per: prices.unit("s3_storage_standard").into(),
            free_tier: None,
            example: None,
        });
    }
    lines
}

fn assumptions(book: &PriceBook, emulator: bool) -> Vec<String> {
    let a = &book.assumptions;
    let mut list = vec![
        "one AWS account per environment: the free tier is applied once per environment (environments sharing an account share it)".to_string(),
        format!(
            "{} MB of logs a month per log group, stored as written for the environment's retention (steady state; CloudWatch bills storage compressed, so this is an upper bound); the free 5 GB of log data goes to that ingestion first",
            a.log_ingest_mb_per_group_per_month
        ),
        "a month of 30 days; 1 GB = 1024 MB".to_string(),
        "customer-managed keys in their first year: each of a key's first two yearly rotations adds $1.00 a month".to_string(),
        format!(
            "per-use figures: {} ms per request, {} read and {} write request unit(s) per API request; none of them is in the fixed figure",
            a.lambda_average_duration_ms, a.dynamodb_read_units_per_request, a.dynamodb_write_units_per_request
        ),
        "not counted: data transfer out, CloudTrail, the artifact bucket of the bootstrap stack (cents a month for its zips)".to_string(),
    ];
    if emulator {
        list.insert(
            0,
            "this environment runs on the local emulator, which bills nothing: the figures are what the same stacks would cost in AWS".into(),
        );
    }
    list
}

/// `1000000` as `1,000,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for CostReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>12} {} ({}): fixed monthly cost from the rendered templates; prices of {} in {}",
            "Cost", self.environment, self.region, self.prices.read_on, self.prices.file
        )?;
        for cap in &self.capabilities {
            writeln!(
                f,
                "\n{:>12} {} (stack {})",
                "", cap.capability, cap.stack_name
            )?;
            for item in &cap.items {
                writeln!(
                    f,
                    "{:>12} {:>7}  {:<40} x ${} / {:<20} {:>9}",
                    "",
                    item.quantity,
                    item.item,
                    item.unit_usd.exact(),
                    item.unit,
                    item.monthly_usd.to_string()
                )?;
            }
            writeln!(
                f,
                "{:>12} {:>7}  {:<40}   {:<27} {:>9}",
                "",
                "",
                "list price, before the free tier",
                "",
                cap.list_monthly_usd.to_string()
            )?;
        }
        writeln!(
            f,
            "\n{:>12} {} together, the free tier applied once (one account):",
            "", self.environment
        )?;
        writeln!(
            f,
            "{:>12} {:>7} {:>6} {:>7}  {:<40} {:>9}",
            "", "count", "free", "billed", "item", "monthly"
        )?;
        for item in &self.fixed_items {
            writeln!(
                f,
                "{:>12} {:>7} {:>6} {:>7}  {:<40} {:>9}",
                "",
                item.quantity,
                item.free,
                item.billed,
                item.item,
                item.monthly_usd.to_string()
            )?;
        }
        writeln!(
            f,
            "{:>12} {} a month fixed (list price {}; per-use charges below are not in it)",
            "Estimate", self.fixed_monthly_usd, self.list_monthly_usd
        )?;
        if let Some(budget) = &self.budget {
            if budget.over {
                writeln!(
                    f,
                    "{:>12} {}: the estimate is over it by {}",
                    "Budget",
                    budget.budget_usd,
                    self.fixed_monthly_usd.saturating_sub(budget.budget_usd)
                )?;
            } else {
                writeln!(
                    f,
                    "{:>12} {}: within it ({} to spare)",
                    "Budget",
                    budget.budget_usd,
                    budget.budget_usd.saturating_sub(self.fixed_monthly_usd)
                )?;
            }
        } else {
            writeln!(f, "{:>12} none set (budget_usd in the env file)", "Budget")?;
        }
        writeln!(
            f,
            "\n{:>12} paid per use, not in the fixed figure:",
            "Per use"
        )?;
        for line in &self.per_use {
            write!(
                f,
                "{:>12} {:<46} ${} per {}",
                "",
                line.item,
                line.price_usd.exact(),
                line.per
            )?;
            if let Some(free) = &line.free_tier {
                write!(f, " (free: {free})")?;
            }
            writeln!(f)?;
            if let Some(example) = &line.example {
                writeln!(f, "{:>12} {:<46} = {example}", "", "")?;
            }
        }
        writeln!(
            f,
            "{:>12} 1 million API requests a month: about {} (Lambda, HTTP API, DynamoDB; before any free tier)",
            "", self.per_million_requests_usd
        )?;
        let free: Vec<String> = self
            .free_resources
            .iter()
            .map(|r| format!("{} x{}", r.resource_type, r.count))
            .collect();
        writeln!(
            f,
            "\n{:>12} no monthly charge of their own: {}",
            "Free",
            free.join(", ")
        )?;
        if !self.not_priced.is_empty() {
            let unknown: Vec<String> = self
                .not_priced
                .iter()
                .map(|(kind, n)| format!("{kind} x{n}"))
                .collect();
            writeln!(
                f,
                "{:>12} {} (not in the estimate)",
                "Not priced",
                unknown.join(", ")
            )?;
        }
        writeln!(f, "{:>12} {}", "Prices", self.prices.note)?;
        for assumption in &self.assumptions {
            writeln!(f, "{:>12} {assumption}", "Assumes")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn book() -> PriceBook {
        PriceBook::builtin().expect("the compiled-in price file reads")
    }

    /// A template of `dashboards` dashboards, `alarms` single-metric alarms, `keys` KMS
    /// keys and `groups` log groups kept `retention` days.
    fn template(
        dashboards: usize,
        alarms: usize,
        keys: usize,
        groups: usize,
        retention: u32,
    ) -> serde_json::Value {
        let mut resources = serde_json::Map::new();
        for i in 0..dashboards {
            resources.insert(
                format!("Dashboard{i}"),
                json!({"Type": "AWS::CloudWatch::Dashboard", "Properties": {}}),
            );
        }
        for i in 0..alarms {
            resources.insert(
                format!("Alarm{i}"),
                json!({"Type": "AWS::CloudWatch::Alarm", "Properties": {"Period": 60, "MetricName": "Errors"}}),
            );
        }
        for i in 0..keys {
            resources.insert(
                format!("Key{i}"),
                json!({"Type": "AWS::KMS::Key", "Properties": {}}),
            );
        }
        for i in 0..groups {
            resources.insert(
                format!("Logs{i}"),
                json!({"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": retention}}),
            );
        }
        json!({ "Resources": resources })
    }

    fn estimate_of(
        templates: &[serde_json::Value],
        region: &str,
        budget: Option<Usd>,
    ) -> CostReport {
        estimate(
            &book(),
            &EnvInput {
                environment: "sandbox",
                region,
                emulator: false,
                budget,
                stacks: templates
                    .iter()
                    .map(|t| ("cap", "stackpro-cap-sandbox", t))
                    .collect(),
            },
        )
        .unwrap()
    }

    #[test]
    fn the_price_file_holds_every_price_in_both_regions_with_its_source_and_date() {
        let book = book();
        assert_eq!(book.regions(), ["eu-west-1", "us-east-1"]);
        assert_eq!(book.read_on, "2026-11-30");
        for (key, price) in &book.prices {
            assert!(price.source.starts_with("https://aws.amazon.com/"), "{key}");
            assert_eq!(price.read_on, "2026-11-30", "{key}");
        }
        for (key, allowance) in &book.free_tier {
            assert!(
                allowance.source.starts_with("https://aws.amazon.com/"),
                "{key}"
            );
        }
        let eu = book.for_region("eu-west-1").unwrap();
        assert_eq!(eu.usd("cloudwatch_dashboard"), Usd::dollars(3));
        assert_eq!(eu.free("cloudwatch_dashboards"), 3);
        assert_eq!(eu.free("cloudwatch_alarm_metrics"), 10);
        assert_eq!(eu.free("logs_data_gb"), 5);
    }

    #[test]
    fn a_price_file_missing_a_price_or_a_region_is_refused() {
        let without_kms = PRICES_YAML.replace("  kms_key:\n", "  kms_key_renamed:\n");
        let err = PriceBook::parse(&without_kms).unwrap_err().to_string();
        assert!(
            err.contains("cli/data/prices.yaml: no price `kms_key`"),
            "{err}"
        );
        let one_region = PRICES_YAML.replace(
            "usd: { us-east-1: \"1.00\", eu-west-1: \"1.00\" }\n    source: https://aws.amazon.com/kms/pricing/\n    read_on: 2026-11-30\n  kms_requests",
            "usd: { us-east-1: \"1.00\" }\n    source: https://aws.amazon.com/kms/pricing/\n    read_on: 2026-11-30\n  kms_requests",
        );
        let err = PriceBook::parse(&one_region).unwrap_err().to_string();
        assert!(
            err.contains("price `kms_key` has no amount for eu-west-1"),
            "{err}"
        );
    }

    #[test]
    fn a_region_without_prices_is_a_configuration_error_never_another_regions_price() {
        let err = estimate(
            &book(),
            &EnvInput {
                environment: "tokyo",
                region: "ap-northeast-1",
                emulator: false,
                budget: None,
                stacks: vec![],
            },
        )
        .unwrap_err();
        assert_eq!(err.exit_status(), crate::error::ExitStatus::Usage);
        assert!(err
            .to_string()
            .contains("has no prices for region ap-northeast-1"));
    }

    #[test]
    fn a_rendered_stack_is_counted_by_what_is_billed() {
        let stack = json!({"Resources": {
            "Dashboard": {"Type": "AWS::CloudWatch::Dashboard"},
            "ErrorRate": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Metrics": [
                {"Id": "errors", "MetricStat": {"Period": 60}},
                {"Id": "requests", "MetricStat": {"Period": 60}},
                {"Id": "rate", "Expression": "100 * errors / requests"}]}},
            "Fast": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Period": 10}},
            "Key": {"Type": "AWS::KMS::Key"},
            "KeyAlias": {"Type": "AWS::KMS::Alias"},
            "LogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 14}},
            "Forever": {"Type": "AWS::Logs::LogGroup", "Properties": {}},
            "Plain": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String"}},
            "Big": {"Type": "AWS::SSM::Parameter", "Properties": {"Tier": "Advanced"}},
            "Function": {"Type": "AWS::Lambda::Function", "Properties": {
                "MemorySize": 512, "Architectures": ["arm64"], "TracingConfig": {"Mode": "Active"}}},
            "Route": {"Type": "AWS::ApiGatewayV2::Route"},
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"BillingMode": "PAY_PER_REQUEST"}},
            "Provisioned": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
            "Queue": {"Type": "AWS::SQS::Queue"}
        }});
        let inv = Inventory::of(&stack);
        assert_eq!(inv.dashboards, 1);
        assert_eq!(
            inv.alarm_metrics_standard, 2,
            "a metric-math alarm counts the metrics it reads"
        );
        assert_eq!(inv.alarm_metrics_high_resolution, 1);
        assert_eq!(inv.kms_keys, 1);
        assert_eq!(inv.log_groups, [14]);
        assert_eq!(
            (inv.ssm_parameters_standard, inv.ssm_parameters_advanced),
            (1, 1)
        );
        assert_eq!(
            inv.functions,
            [FunctionShape {
                memory_mb: 512,
                arm64: true
            }]
        );
        assert_eq!(inv.traced_functions, 1);
        assert_eq!(inv.routes, 1);
        assert_eq!(
            inv.custom_metrics(),
            9,
            "6 names for the capability + 3 for its 1 route"
        );
        assert_eq!(inv.free["AWS::KMS::Alias"], 1);
        assert_eq!(inv.free["AWS::DynamoDB::Table"], 1);
        assert_eq!(inv.free["AWS::SSM::Parameter"], 1);
        assert_eq!(
            inv.not_priced.keys().collect::<Vec<_>>(),
            [
                "AWS::DynamoDB::Table (provisioned capacity)",
                "AWS::Logs::LogGroup (no RetentionInDays: kept forever)",
                "AWS::SQS::Queue"
            ]
        );
    }

    #[test]
    fn three_dashboards_are_free_and_the_fourth_costs_three_dollars() {
        let three = estimate_of(&[template(3, 0, 0, 0, 1)], "us-east-1", None);
        assert_eq!(three.fixed_monthly_usd, Usd::ZERO);
        assert_eq!(three.list_monthly_usd, Usd::dollars(9));
        // Free per account, not per stack: four stacks of one dashboard each.
        let four: Vec<_> = (0..4).map(|_| template(1, 0, 0, 0, 1)).collect();
        let four = estimate_of(&four, "us-east-1", None);
        assert_eq!(four.fixed_monthly_usd, Usd::dollars(3));
        let dashboards = &four.fixed_items[0];
        assert_eq!(
            (
                dashboards.quantity.as_str(),
                dashboards.free.as_str(),
                dashboards.billed.as_str()
            ),
            ("4", "3", "1")
        );
    }

    #[test]
    fn ten_alarm_metrics_are_free_and_the_eleventh_costs_ten_cents() {
        assert_eq!(
            estimate_of(&[template(0, 10, 0, 0, 1)], "eu-west-1", None).fixed_monthly_usd,
            Usd::ZERO
        );
        assert_eq!(
            estimate_of(&[template(0, 11, 0, 0, 1)], "eu-west-1", None).fixed_monthly_usd,
            Usd::parse("0.10").unwrap()
        );
    }

    #[test]
    fn customer_managed_keys_have_no_free_tier() {
        let report = estimate_of(
            &[template(0, 0, 1, 0, 1), template(0, 0, 1, 0, 1)],
            "eu-west-1",
            None,
        );
        assert_eq!(report.fixed_monthly_usd, Usd::dollars(2));
        let keys = report
            .fixed_items
            .iter()
            .find(|i| i.item == "customer-managed KMS keys")
            .unwrap();
        assert_eq!((keys.free.as_str(), keys.billed.as_str()), ("0", "2"));
    }

    #[test]
    fn log_storage_is_priced_at_the_retention_after_the_free_five_gigabytes() {
        // 8 groups x 100 MB a month kept 90 days: 2.34 GB-months stored, 0.78 GB ingested;
        // within the 5 GB of free log data.
        let groups = estimate_of(&[template(0, 0, 0, 8, 90)], "eu-west-1", None);
        let storage = groups.fixed_items.last().unwrap();
        assert_eq!(storage.item, "log storage (8 groups, 90 days kept)");
        assert_eq!(
            (storage.quantity.as_str(), storage.billed.as_str()),
            ("2.34", "0.00")
        );
        assert_eq!(groups.fixed_monthly_usd, Usd::ZERO);
        assert_eq!(groups.capabilities[0].list_monthly_usd.exact(), "0.0703125");
        // 20 groups kept a year: 2,000 MB ingested, 24,333 MB stored; 5,120 - 2,000 free.
        let year = estimate_of(&[template(0, 0, 0, 20, 365)], "us-east-1", None);
        let storage = year.fixed_items.last().unwrap();
        assert_eq!(
            (
                storage.quantity.as_str(),
                storage.free.as_str(),
                storage.billed.as_str()
            ),
            ("23.76", "3.05", "20.72")
        );
        assert_eq!(year.fixed_monthly_usd.cents(), "0.62");
    }

    #[test]
    fn per_use_prices_stay_out_of_the_fixed_figure() {
        let mut stack = template(0, 0, 0, 2, 14);
        stack["Resources"]["Function"] =
            json!({"Type": "AWS::Lambda::Function", "Properties": {"MemorySize": 128}});
        let report = estimate_of(&[stack], "us-east-1", None);
        assert_eq!(report.fixed_monthly_usd, Usd::ZERO);
        let compute = report
            .per_use
            .iter()
            .find(|l| l.item == "Lambda compute, 128 MB x86_64")
            .unwrap();
        // 1,000,000 x 0.1 s x 0.125 GB = 12,500 GB-s at $0.0000166667.
        assert_eq!(
            compute.example.as_deref(),
            Some("$0.21 per 1 million requests of 100 ms")
        );
        // Lambda $0.20 + compute $0.20833375 + HTTP API $1.00 + DynamoDB 1 x $0.625 + 2 x $0.125.
        assert_eq!(report.per_million_requests_usd.exact(), "2.28333375");
    }

    #[test]
    fn a_budget_is_compared_with_the_fixed_figure() {
        let four: Vec<_> = (0..4).map(|_| template(1, 4, 0, 2, 14)).collect();
        // 1 dashboard ($3.00) and 6 alarm metrics ($0.60) beyond the free tier.
        let within = estimate_of(&four, "eu-west-1", Some(Usd::dollars(5)));
        assert_eq!(within.fixed_monthly_usd.exact(), "3.60");
        assert!(!within.budget.as_ref().unwrap().over);
        let over = estimate_of(&four, "eu-west-1", Some(Usd::dollars(3)));
        assert!(over.budget.as_ref().unwrap().over);
        assert!(
            over.to_string()
                .contains("Budget $3.00: the estimate is over it by $0.60"),
            "{over}"
        );
        let exact = estimate_of(&four, "eu-west-1", Some(Usd::parse("3.60").unwrap()));
        assert!(
            !exact.budget.unwrap().over,
            "a budget met exactly is not exceeded"
        );
    }

    #[test]
    fn the_json_report_is_one_document_with_money_as_exact_decimal_text() {
        let report = estimate_of(
            &[template(4, 0, 1, 2, 14)],
            "eu-west-1",
            Some(Usd::dollars(5)),
        );
        let value = serde_json::to_value(&report).unwrap();
        assert_eq!(value["environment"], "sandbox");
        assert_eq!(value["region"], "eu-west-1");
        assert_eq!(value["emulator"], false);
        assert_eq!(value["prices"]["file"], "cli/data/prices.yaml");
        assert_eq!(value["prices"]["read_on"], "2026-11-30");
        assert_eq!(value["fixed_monthly_usd"], "4.00");
        assert_eq!(value["list_monthly_usd"], "13.002734375");
        assert_eq!(
            value["budget"],
            json!({"budget_usd": "5.00", "over": false})
        );
        let item = &value["capabilities"][0]["items"][0];
        assert_eq!(
            item,
            &json!({"item": "dashboards", "resource_type": "AWS::CloudWatch::Dashboard", "quantity": "4",
                    "unit": "dashboard-month", "unit_usd": "3.00", "monthly_usd": "12.00"})
        );
        let fixed = &value["fixed_items"][0];
        assert_eq!(fixed["free"], "3");
        assert_eq!(fixed["billed"], "1");
        assert!(value["per_use"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["price_usd"].is_string()));
        assert!(value["assumptions"].as_array().unwrap().len() >= 5);
        assert!(value["free_resources"].is_array());
    }
}
