//! Every template renders with the context its handler gives it (a broken
//! template or a misspelt message key fails here, not on a page), and the
//! result is accessible markup within the page-weight budget.

use minijinja::context;

use crate::{Pages, PagesConfig, render};

fn pages() -> Pages {
    Pages::build(&PagesConfig::default(), "http://127.0.0.1:8080").unwrap()
}

fn errors() -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(serde_errors()))
}

fn serde_errors() -> Vec<std::collections::BTreeMap<&'static str, &'static str>> {
    vec![std::collections::BTreeMap::from([
        ("field", "password"),
        ("message", "The email address or password is wrong."),
    ])]
}

fn field_errors() -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(std::collections::BTreeMap::from([
        ("password", "The email address or password is wrong."),
    ])))
}

/// Each page with and without errors.
fn samples() -> Vec<(&'static str, minijinja::Value)> {
    let session = context! {
        id => "0190", current => true, device => "Chrome on Linux", ip => "127.0.0.1",
        created_at => "x", created_on => "6 Dec", last_used_at => "x", last_used_on => "6 Dec",
    };
    let provider = context! { id => "google", label => "Google", href => "/v1/oauth/google/start?intent=signin" };
    let identity = context! {
        id => "0191", label => "GitHub", email => "alice@example.com", linked_on => "6 Dec", linked_at => "x",
    };
    let mut out = Vec::new();
    for with_errors in [false, true] {
        // With errors: the social parts shown; without: none configured.
        let providers = if with_errors {
            vec![provider.clone()]
        } else {
            vec![]
        };
        let identities = if with_errors {
            vec![identity.clone()]
        } else {
            vec![]
        };
        let user = context! {
            email => "alice@example.com", username => "Alice", email_verified => with_errors, has_password => !with_errors,
            created_at => "2026-12-06T00:00:00Z", created_on => "6 Dec 2026, 00:00 UTC",
            roles => vec!["user"],
        };
        let (errs, fields) = if with_errors {
            (errors(), field_errors())
        } else {
            (minijinja::Value::from(Vec::<i32>::new()), context! {})
        };
        let common = context! {
            csrf_token => "tok", rd => "/app", rd_query => "?rd=%2Fapp",
            notice => with_errors.then_some("Signed out."),
            errors => errs.clone(), field_errors => fields.clone(),
        };
        out.push((
            "signin.html",
            context! { ..common.clone(), ..context! { email => "a@b.co", links => context! { signup => true, forgot => true }, providers => providers.clone() } },
        ));
        out.push((
            "signup.html",
            context! { ..common.clone(), ..context! { email => "a@b.co", providers => providers.clone() } },
        ));
        // Two-step verification: off, being set up (the QR code), and on
        // with the recovery codes just made.
        let qr = warden_core::mfa::qr_svg(
            "otpauth://totp/Warden:alice%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Warden&algorithm=SHA1&digits=6&period=30",
        )
        .unwrap();
        let mfa_states = [
            context! { enabled => false, totp => false, passkeys => Vec::<minijinja::Value>::new(), recovery_codes_left => 0, reauth => with_errors, recovery_codes => Vec::<String>::new(), enrolment => () },
            context! {
                enabled => false, totp => false, passkeys => Vec::<minijinja::Value>::new(), recovery_codes_left => 0, reauth => false, recovery_codes => Vec::<String>::new(),
                enrolment => context! { qr_svg => qr, secret => "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP" },
            },
            context! {
                enabled => true, totp => true, recovery_codes_left => 10, reauth => with_errors,
                passkeys => vec![
                    context! { id => "0190c0de-0000-7000-8000-000000000001", name => "Work laptop", synced => false, added_on => "5 Dec 2026", added_at => "2026-12-05T10:00:00Z", last_used_on => "6 Dec 2026" },
                    context! { id => "0190c0de-0000-7000-8000-000000000002", name => "Phone", synced => true, added_on => "6 Dec 2026", added_at => "2026-12-06T10:00:00Z", last_used_on => () },
                ],
                recovery_codes => vec!["k3m9-x7qd-2hfa-p0zr"; 10], enrolment => (),
            },
        ];
        for mfa in mfa_states {
            out.push((
                "account.html",
                context! { ..common.clone(), ..context! { user => user.clone(), sessions => vec![session.clone()], new_email => "new@example.com", identities => identities.clone(), connect => providers.clone(), mfa => mfa } },
            ));
        }
        let options = r#"{"publicKey":{"challenge":"AAAA","rpId":"warden.test","allowCredentials":[],"userVerification":"required"}}"#;
        for (recovery, totp, passkey_options) in [
            (false, true, None),
            (true, true, None),
            (false, true, Some(options)),
            (false, false, Some(options)),
            (true, false, Some(options)),
        ] {
            out.push((
                "mfa.html",
                context! { ..common.clone(), ..context! { recovery => recovery, totp => totp, passkey_options => passkey_options, recovery_query => "?rd=%2Fapp&method=recovery" } },
            ));
        }
        out.push((
            "forgot.html",
            context! { ..common.clone(), ..context! { email => "a@b.co" } },
        ));
        out.push((
            "reset.html",
            context! { ..common.clone(), ..context! { token => "wml_x", email => "a@b.co" } },
        ));
        for change in [false, true] {
            out.push((
                "verify.html",
                context! { ..common.clone(), ..context! { token => "wml_x", email => "a@b.co", change => change } },
            ));
        }
        out.push((
            "message.html",
            context! {
                heading => "Not found", text => "Nothing here.", errors => errs.clone(),
                link => context! { href => "/signin", text => "Back to sign in" },
            },
        ));
        let hidden = vec![
            context! { name => "client_id", value => "3kTq" },
            context! { name => "state", value => "a\"b" },
        ];
        out.push((
            "consent.html",
            context! {
                csrf_token => "t", heading => "Allow Tickets?", lead => "Tickets asks.",
                scopes => vec!["Know who you are", "See your email address"],
                redirect_note => "You go back to https://tickets.example.com.",
                signed_in_as => "Signed in as a@b.co.", fields => hidden.clone(),
                errors => errs.clone(), field_errors => fields.clone(),
            },
        ));
        out.push((
            "logout.html",
            context! {
                csrf_token => "t", lead => "Sign out?", fields => hidden,
                errors => errs.clone(), field_errors => fields.clone(),
            },
        ));
        out.push((
            "continue.html",
            context! {
                location => "https://tickets.example.com/cb?code=woc_x&state=s",
                text => "Taking you back to Tickets…", errors => errs.clone(),
            },
        ));
        // The admin console.
        let chrome = context! {
            csrf_token => "tok", admin_email => "root@example.com", section => "users",
            notice => with_errors.then_some("The user is banned."),
            errors => errs.clone(), field_errors => fields.clone(),
        };
        let row = context! {
            id => "0190c0de-0000-7000-8000-000000000001", email => "alice@example.com",
            username => with_errors.then_some("Alice"), roles => "billing, user", banned => with_errors,
            verified => !with_errors, created_at => "2026-12-06T00:00:00Z", created_on => "6 Dec 2026, 00:00 UTC",
        };
        let rows = if with_errors {
            vec![]
        } else {
            vec![row.clone(), row.clone()]
        };
        out.push((
            "admin/users.html",
            context! { ..chrome.clone(), ..context! {
                q => if with_errors { "acme" } else { "" }, users => rows,
                next => (!with_errors).then_some("/admin/users?q=&cursor=0190"),
                first => with_errors.then_some("/admin/users?q=acme"),
            } },
        ));
        let admin_session = context! {
            id => "0191", device => "Chrome on Linux", ip => "192.0.2.1", user_agent => "Mozilla/5.0", client_id => with_errors.then_some("3kTqW9"),
            two_factor => with_errors, created_at => "x", created_on => "6 Dec", last_used_at => "x", last_used_on => "6 Dec",
        };
        out.push((
            "admin/user.html",
            context! { ..chrome.clone(), ..context! {
                user => row.clone(), is_self => !with_errors, has_password => with_errors,
                factors => context! { any => with_errors, totp => with_errors, passkeys => 2, recovery_codes_left => 9 },
                sessions => if with_errors { vec![admin_session] } else { vec![] },
                identities => if with_errors { vec![context! { provider => "google", email => "a@b.co", linked_on => "6 Dec" }] } else { vec![] },
                ban_reason => "spam",
            } },
        ));
        let bar = |x: u32, label: Option<&str>| {
            context! {
                x => x, width => 26, ok_y => 100, ok_height => 42, fail_y => 90, fail_height => 10,
                label => label, hour => "14:00", succeeded => 12, failed => 3,
            }
        };
        out.push((
            "admin/overview.html",
            context! { ..chrome.clone(), ..context! {
                users => 3, live_sessions => 2, locked_out => 0, mail_queue => 1,
                relay_lag => with_errors.then_some(4), succeeded => 12, failed => 3,
                chart => context! { width => 720, height => 160, max => 15, bars => vec![bar(2, Some("14:00")), bar(32, None)] },
            } },
        ));
        let entry = context! {
            at => "2026-12-06T00:00:00Z", at_text => "6 Dec 2026, 00:00 UTC", action => "ban", success => !with_errors,
            actor => context! { href => (), text => "Operator (CLI)" },
            target => context! { href => "/admin/users/0190", text => "alice@example.com" },
            ip => with_errors.then_some("192.0.2.1"), detail => with_errors.then_some("spam"),
        };
        out.push((
            "admin/audit.html",
            context! { ..chrome.clone(), ..context! {
                filters => context! { user => "alice@example.com", action => "ban", outcome => "failure", from => "2026-12-06T00:00", to => "" },
                entries => if with_errors { vec![] } else { vec![entry.clone(), entry] },
                next => (!with_errors).then_some("/admin/audit?cursor=x"), first => with_errors.then_some("/admin/audit?"),
                csv => "/admin/audit.csv?user=", actions => vec!["signin", "ban"],
            } },
        ));
        let fields = context! {
            name => "Tickets", kind => if with_errors { "public" } else { "confidential" },
            redirect_uris => "https://tickets.example.com/cb\nhttp://127.0.0.1:9000/cb", post_logout_redirect_uris => "",
            scopes => "openid email", grant_authorization_code => true, grant_refresh_token => with_errors,
            grant_client_credentials => false, first_party => with_errors,
        };
        let client = context! {
            id => "3kTqW9xY", name => "Tickets", kind => "confidential", first_party => with_errors,
            grants => "authorization_code", redirect_uris => vec!["https://tickets.example.com/cb"],
            scopes => "openid", created_on => "6 Dec 2026, 00:00 UTC",
        };
        out.push((
            "admin/clients.html",
            context! { ..chrome.clone(), ..context! {
                clients => if with_errors { vec![] } else { vec![client.clone()] }, new => fields.clone(),
            } },
        ));
        out.push((
            "admin/client.html",
            context! { ..chrome.clone(), ..context! {
                client => client.clone(), confidential => !with_errors, fields => fields.clone(),
                secret_rotated_on => with_errors.then_some("6 Dec 2026"),
            } },
        ));
        out.push((
            "admin/secret.html",
            context! { ..chrome.clone(), ..context! {
                heading => "Tickets is registered", client_id => "3kTqW9xY", client_name => "Tickets",
                secret => (!with_errors).then_some("wcs_secret"), back => "/admin/clients/3kTqW9xY",
            } },
        ));
        out.push((
            "admin/confirm.html",
            context! { ..chrome.clone(), ..context! {
                heading => "Delete alice@example.com?", text => "This can't be undone.",
                action => "/admin/users/0190/delete", fields => vec![("reason", "spam \"x\"")],
                button => "Delete for good", danger => with_errors,
                type_to_confirm => with_errors.then_some("alice@example.com"), cancel => "/admin/users/0190",
            } },
        ));
    }
    out
}

#[test]
fn every_template_renders_with_its_context() {
    let pages = pages();
    let names: Vec<&str> = samples().iter().map(|(name, _)| *name).collect();
    for (name, _) in render::TEMPLATES {
        if ![
            "base.html",
            "macros.html",
            "admin/layout.html",
            "admin/client_fields.html",
        ]
        .contains(name)
        {
            assert!(names.contains(name), "{name} has no sample");
        }
    }
    for (name, ctx) in samples() {
        let html = render::render(&pages.env, name, ctx).unwrap_or_else(|e| panic!("{e:#}"));
        assert!(html.starts_with("<!doctype html>"), "{name}");
        assert!(html.contains("<html lang=\"en\">"), "{name}");
    }
}

#[test]
fn a_missing_variable_fails_instead_of_rendering_blank() {
    let pages = pages();
    assert!(render::render(&pages.env, "signin.html", context! {}).is_err());
}

#[test]
fn fields_are_labelled_described_and_autocompleted() {
    let pages = pages();
    let (_, ctx) = samples()
        .into_iter()
        .find(|(n, c)| *n == "signin.html" && c.get_attr("notice").is_ok_and(|n| !n.is_none()))
        .unwrap();
    let html = render::render(&pages.env, "signin.html", ctx).unwrap();
    assert!(html.contains(r#"<label for="email">"#), "{html}");
    assert!(html.contains(r#"autocomplete="username""#));
    assert!(html.contains(r#"autocomplete="current-password""#));
    assert!(html.contains(r#"aria-describedby="password-error""#));
    assert!(html.contains(r#"aria-invalid="true""#));
    assert!(
        html.contains(r##"<a href="#password">"##),
        "the summary links to the field"
    );
    assert!(html.contains(r#"name="csrf_token" value="tok""#));
    assert!(html.contains("<title>Error: Sign in · Warden</title>"));
}

#[test]
fn values_are_escaped() {
    let pages = pages();
    let ctx = context! {
        csrf_token => "tok", rd => "\"><script>", rd_query => "", notice => (), errors => Vec::<i32>::new(),
        field_errors => context! {}, email => "<b>x</b>", links => context! { signup => true, forgot => false },
        providers => vec![context! { id => "x", label => "<b>x</b>", href => "/start?a=\"><script>" }],
    };
    let html = render::render(&pages.env, "signin.html", ctx).unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("<b>x"),
        "{html}"
    );
}

#[test]
fn a_template_override_replaces_the_built_in_and_a_broken_one_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("message.html"), "custom {{ heading }}").unwrap();
    let mut config = PagesConfig::default();
    config.branding.templates_dir = Some(dir.path().to_owned());
    let pages = Pages::build(&config, "https://auth.example.com").unwrap();
    let html = render::render(&pages.env, "message.html", context! { heading => "Hi" }).unwrap();
    assert_eq!(html, "custom Hi");

    std::fs::write(dir.path().join("signin.html"), "{% if %}").unwrap();
    let err = Pages::build(&config, "https://auth.example.com")
        .err()
        .unwrap();
    assert!(err.to_string().contains("signin.html"), "{err}");
}

#[test]
fn pages_behind_a_prefix_link_under_it() {
    let pages = Pages::build(&PagesConfig::default(), "https://example.com/auth/").unwrap();
    let (_, ctx) = samples().remove(0);
    let html = render::render(&pages.env, "signin.html", ctx).unwrap();
    assert!(html.contains(r#"action="/auth/signin""#), "{html}");
    assert!(html.contains(r#"href="/auth/assets/warden."#));
}

#[test]
fn a_page_with_its_assets_weighs_under_30_kb() {
    let pages = pages();
    let heaviest = |admin: bool| {
        samples()
            .into_iter()
            .filter(|(name, _)| name.starts_with("admin/") == admin)
            .map(|(name, ctx)| render::render(&pages.env, name, ctx).unwrap().len())
            .max()
            .unwrap()
    };
    let total = heaviest(false) + pages.asset_bytes();
    assert!(total < 30 * 1024, "{total} bytes");
    // The console carries its own stylesheet and a bigger page (tables, an
    // SVG chart); still well under a typical hero image.
    let total = heaviest(true) + pages.admin_asset_bytes();
    assert!(total < 40 * 1024, "admin: {total} bytes");
}
