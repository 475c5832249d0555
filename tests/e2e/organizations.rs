//! OU entries end to end on moto's AWS Organizations: an account created in
//! a nested OU is accepted through an entry on its OU, with the path in the
//! reasons; a deny on a parent OU then rejects its next endpoint; and with
//! Organizations throttled at every call (the fault proxy) nothing is
//! accepted through an OU entry; and plan's count of the accounts each OU
//! entry covers comes from the same organization.

use std::sync::Arc;

use aws_sdk_organizations::Client;
use gate_app::organizations::Placements;
use gate_aws::{AwsOrganizations, DynamoStore};
use gate_core::{AllowEntry, Effect, Principal, Scope, ServicePolicy};
use gate_e2e::{FaultProxy, Local, Result, Service, connect_event};
use gate_lambdas::decide::handle_at;
use gate_lambdas::sdk::CallLimits;

/// The provider is also the organization's management account here (static
/// keys act in 123456789012); decide reads through this role in it.
const ORG_ROLE: &str = "arn:aws:iam::123456789012:role/EndpointGateOrgReader";

/// The read-only role decide assumes in the management account (moto
/// refuses AssumeRole on a role that does not exist in the caller's own
/// account).
async fn org_reader_role(local: &Local) -> Result<()> {
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
    let iam = aws_sdk_iam::Client::new(&local.sdk);
    match iam.create_role().role_name("EndpointGateOrgReader").assume_role_policy_document(trust).send().await
    {
        Ok(_) => Ok(()),
        // The other test, or an earlier run on this server, made it.
        Err(e) if format!("{e:?}").contains("EntityAlreadyExists") => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A fresh Workloads/Prod pair of OUs and an account created in Prod.
struct Org {
    workloads: String,
    prod: String,
    /// "Workloads-…/Prod-…", as the reasons name Prod.
    path: String,
    account: String,
}

/// The organization in the management account: created once per moto
/// server, whichever test gets there first.
async fn organization(orgs: &Client) -> Result<String> {
    if let Ok(out) = orgs.describe_organization().send().await
        && let Some(id) = out.organization().and_then(|o| o.id())
    {
        return Ok(id.to_owned());
    }
    match orgs.create_organization().send().await {
        Ok(out) => Ok(out.organization().and_then(|o| o.id()).ok_or("no organization id")?.to_owned()),
        Err(_) => {
            let out = orgs.describe_organization().send().await?;
            Ok(out.organization().and_then(|o| o.id()).ok_or("no organization id")?.to_owned())
        }
    }
}

async fn nested_account(local: &Local) -> Result<Org> {
    let orgs = Client::new(&local.sdk);
    organization(&orgs).await?;
    org_reader_role(local).await?;
    let roots = orgs.list_roots().send().await?;
    let root = roots.roots().first().and_then(|r| r.id()).ok_or("no root")?.to_owned();
    let tag = gate_e2e::unique("w");
    let ou = |parent: String, name: String| {
        let orgs = orgs.clone();
        async move {
            let out = orgs.create_organizational_unit().parent_id(parent).name(name).send().await?;
            Result::Ok(out.organizational_unit().and_then(|o| o.id()).ok_or("no OU id")?.to_owned())
        }
    };
    let workloads = ou(root.clone(), format!("Workloads-{tag}")).await?;
    let prod = ou(workloads.clone(), format!("Prod-{tag}")).await?;
    let created =
        orgs.create_account().email(format!("{tag}@example.com")).account_name(tag.clone()).send().await?;
    let account =
        created.create_account_status().and_then(|s| s.account_id()).ok_or("no account id")?.to_owned();
    orgs.move_account()
        .account_id(&account)
        .source_parent_id(&root)
        .destination_parent_id(&prod)
        .send()
        .await?;
    Ok(Org { workloads, prod, path: format!("Workloads-{tag}/Prod-{tag}"), account })
}

fn group_entry(principal: &str, effect: Effect) -> Result<AllowEntry> {
    Ok(AllowEntry {
        scope: Scope::Any,
        principal: principal.parse::<Principal>()?,
        effect,
        declared_cidrs: vec![],
        expires_at: None,
        owner: "team-a".into(),
        note: String::new(),
        added_by: "e2e".into(),
        added_at: None,
    })
}

async fn world(local: &Local) -> Result<(Service, DynamoStore, String)> {
    let service = local.service().await?;
    let store = local.table().await?;
    store.put_policy(&ServicePolicy::cautious(service.id.parse()?)).await?;
    let (topic, _) = local.topic_with_queue("org-review").await?;
    Ok((service, store, topic))
}

#[tokio::test]
async fn an_account_in_a_nested_ou_is_accepted_by_its_ou_then_cut_off_by_a_parent_deny() -> Result<()> {
    let local = Local::from_env().await;
    let org = nested_account(&local).await?;
    let (service, store, topic) = world(&local).await?;
    store.put_entry(&group_entry(&org.prod, Effect::Allow)?).await?;
    let mut config = local.decide_config(store.table(), &topic, &[&service]);
    config.organizations_role_arn = Some(ORG_ROLE.into());
    let decider = local.decider(&config).await;

    let consumer = local.consumer(&org.account, "172.31.0.0/16", &[], true).await?;
    let first = local.request(&consumer, &service).await?;
    let out = handle_at(&decider, &connect_event(&service.id, &first, &org.account), gate_e2e::now()).await?;
    let reasons = &out.report.decided[0].reasons;
    let path = format!("is in OU {} ({}), allowed for all services by team-a", org.path, org.prod);
    assert!(reasons.contains(&path), "{reasons}");
    assert_eq!(local.state(&first).await?, "available");

    // The platform team cuts Workloads off: the next endpoint is rejected.
    store.put_entry(&group_entry(&org.workloads, Effect::Deny)?).await?;
    let second = local.request(&consumer, &service).await?;
    let out =
        handle_at(&decider, &connect_event(&service.id, &second, &org.account), gate_e2e::now()).await?;
    let reasons = &out.report.decided[0].reasons;
    assert!(reasons.contains(&format!("({}), denied for all services", org.workloads)), "{reasons}");
    assert_eq!(local.state(&second).await?, "rejected");
    Ok(())
}

#[tokio::test]
async fn plan_counts_the_accounts_under_each_ou_entry_from_organizations() -> Result<()> {
    let local = Local::from_env().await;
    let org = nested_account(&local).await?;
    let file = format!(
        "allow:\n  - ou: {}\n    owner: team-a\n  - ou: {}\n    effect: deny\n    owner: secops\n",
        org.workloads, org.prod
    );
    let desired =
        gate_cli::file::parse("policy.yaml", &file, gate_e2e::now()).map_err(|e| format!("{e:?}"))?;
    let orgs = AwsOrganizations::assuming(&local.sdk, ORG_ROLE).await;
    let coverage = gate_cli::plan::coverage(&desired, &orgs).await;
    let counts: Vec<(String, Option<usize>)> =
        coverage.iter().map(|c| (c.ou.to_string(), c.accounts)).collect();
    // The one account sits in Prod, below Workloads: both cover it.
    let mut expected = vec![(org.workloads.clone(), Some(1)), (org.prod.clone(), Some(1))];
    expected.sort();
    assert_eq!(counts, expected, "{coverage:?}");
    Ok(())
}

#[tokio::test]
async fn with_organizations_throttled_nothing_is_accepted_through_an_ou_entry() -> Result<()> {
    let local = Local::from_env().await;
    let org = nested_account(&local).await?;
    let (service, store, topic) = world(&local).await?;
    store.put_entry(&group_entry(&org.prod, Effect::Allow)?).await?;
    let config = local.decide_config(store.table(), &topic, &[&service]);

    // Every call the Organizations client makes (STS included) is throttled.
    let proxy = FaultProxy::start_with(&local.moto_url, "1", 3, Some("throttle"))?;
    let faulty = CallLimits::BACKGROUND
        .on(aws_config::defaults(aws_config::BehaviorVersion::latest()).endpoint_url(&proxy.url))
        .load()
        .await;
    let placements = Placements::new(Arc::new(AwsOrganizations::assuming(&faulty, ORG_ROLE).await), 900);
    let decider = local.decider(&config).await.with_placements(Arc::new(placements));

    let consumer = local.consumer(&org.account, "172.31.0.0/16", &[], true).await?;
    let endpoint = local.request(&consumer, &service).await?;
    let out =
        handle_at(&decider, &connect_event(&service.id, &endpoint, &org.account), gate_e2e::now()).await?;
    let decided = &out.report.decided[0];
    assert_eq!(decided.outcome, gate_core::Outcome::Review, "{}", decided.reasons);
    assert!(decided.reasons.contains("AWS Organizations could not be read"), "{}", decided.reasons);
    assert_eq!(local.state(&endpoint).await?, "pendingAcceptance");
    let injected = proxy.counts()?;
    assert!(injected.get("throttle").copied().unwrap_or(0) > 0, "the faults were in the path: {injected:?}");
    Ok(())
}

#[tokio::test]
async fn a_partner_outside_the_organization_is_accepted_on_its_own_entry() -> Result<()> {
    let local = Local::from_env().await;
    let org = nested_account(&local).await?;
    let (service, store, topic) = world(&local).await?;
    let partner = "210000000077";
    let mut own = group_entry(partner, Effect::Allow)?;
    own.owner = "partners".into();
    store.put_entry(&own).await?;
    // A deny on the whole organization does not reach an account outside it.
    let organization = Client::new(&local.sdk).describe_organization().send().await?;
    let org_id = organization.organization().and_then(|o| o.id()).ok_or("no organization id")?;
    store.put_entry(&group_entry(org_id, Effect::Deny)?).await?;
    let mut config = local.decide_config(store.table(), &topic, &[&service]);
    config.organizations_role_arn = Some(ORG_ROLE.into());
    let decider = local.decider(&config).await;

    let consumer = local.consumer(partner, "172.31.0.0/16", &[], true).await?;
    let endpoint = local.request(&consumer, &service).await?;
    let out = handle_at(&decider, &connect_event(&service.id, &endpoint, partner), gate_e2e::now()).await?;
    let reasons = &out.report.decided[0].reasons;
    assert!(
        reasons.starts_with("account 210000000077 allowlisted for all services by partners"),
        "{reasons}"
    );
    assert_eq!(local.state(&endpoint).await?, "available");

    // And a member of it is cut off by that deny.
    let member = local.consumer(&org.account, "172.31.0.0/16", &[], true).await?;
    let endpoint = local.request(&member, &service).await?;
    handle_at(&decider, &connect_event(&service.id, &endpoint, &org.account), gate_e2e::now()).await?;
    assert_eq!(local.state(&endpoint).await?, "rejected");
    Ok(())
}

/// The service's allowed principals in EC2, sorted.
async fn allowed_principals(local: &Local, service: &Service) -> Result<Vec<String>> {
    let out = local.ec2().describe_vpc_endpoint_service_permissions().service_id(&service.id).send().await?;
    let mut principals: Vec<String> =
        out.allowed_principals().iter().filter_map(|p| p.principal()).map(str::to_owned).collect();
    principals.sort();
    Ok(principals)
}

#[tokio::test]
async fn plan_and_apply_make_the_allowed_principals_the_allowlist_with_its_ous_resolved() -> Result<()> {
    let local = Local::from_env().await;
    let org = nested_account(&local).await?;
    let service = local.service().await?; // allows "*", as services often start
    let store = local.table().await?;
    let partner = "210000000088";
    let outsider = "210000000099";
    let dir = std::env::temp_dir().join(gate_e2e::unique("principals"));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("policy.yaml");
    std::fs::write(
        &file,
        format!(
            "policies:\n  - service: {svc}\n    principals: allowlist\n\
             allow:\n  - ou: {workloads}\n    service: {svc}\n    owner: team-a\n\
             \x20 - account: \"{partner}\"\n    owner: partners\n\
             \x20 - account: \"{outsider}\"\n    effect: deny\n    owner: secops\n",
            svc = service.id,
            workloads = org.workloads,
        ),
    )?;
    let path = file.to_str().ok_or("path")?;
    let with_role = |verb: &'static str| {
        let table = store.table().to_owned();
        let path = path.to_owned();
        move || crate::cli::common::cli(&table, &["--organizations-role-arn", ORG_ROLE, verb, &path])
    };
    let root = |account: &str| format!("arn:aws:iam::{account}:root");

    // Without the Organizations role the OU cannot be resolved: nothing changes.
    let (code, out, err) = crate::cli::common::cli(store.table(), &["plan", path]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("! principals of {}: not planned, nothing changes", service.id)), "{out}");
    assert!(out.contains("no Organizations role"), "{out}");

    let (code, out, err) = with_role("plan")();
    assert_eq!(code, 0, "{err}");
    for line in [
        format!("+ principal {} of {}", root(&org.account), service.id),
        format!("+ principal {} of {}", root(partner), service.id),
        format!("- principal * of {}", service.id),
    ] {
        assert!(out.contains(&line), "{line} in: {out}");
    }
    assert!(
        !out.contains(&format!("principal {}", root(outsider))),
        "a denied account is no principal: {out}"
    );
    assert_eq!(allowed_principals(&local, &service).await?, vec!["*"], "plan changes nothing");

    let (code, out, err) = with_role("apply")();
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(&format!("{}: allowed principals set", service.id)), "{out}");
    let mut expected = vec![root(&org.account), root(partner)];
    expected.sort();
    assert_eq!(allowed_principals(&local, &service).await?, expected);
    let (_, out, _) = with_role("plan")();
    assert!(out.contains("0 principal(s) to allow, 0 to remove"), "converged: {out}");

    // The sweep's look: as applied, then changed in the console.
    let watch = gate_aws::wiring::Wiring::new(&local.sdk, store.table()).principals_watch();
    assert_eq!(watch.drift().await.map_err(|e| e.chain())?, vec![]);
    local
        .ec2()
        .modify_vpc_endpoint_service_permissions()
        .service_id(&service.id)
        .add_allowed_principals("*")
        .send()
        .await?;
    let drift = watch.drift().await.map_err(|e| e.chain())?;
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!((drift[0].service.as_str(), drift[0].applied, drift[0].live), (service.id.as_str(), 2, 3));
    local
        .ec2()
        .modify_vpc_endpoint_service_permissions()
        .service_id(&service.id)
        .remove_allowed_principals("*")
        .send()
        .await?;

    // EC2 now lets the OU's account create an endpoint, and not the outsider.
    let member = local.consumer(&org.account, "172.31.0.0/16", &[], true).await?;
    assert!(local.request(&member, &service).await.is_ok());
    let stranger = local.consumer(outsider, "172.31.0.0/16", &[], true).await?;
    let refused = local.request(&stranger, &service).await.expect_err("not an allowed principal");
    assert!(format!("{refused:?}").contains("InvalidServiceName"), "{refused:?}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
