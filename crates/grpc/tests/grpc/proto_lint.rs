//! buf-style lint of `proto/warden/v1/*.proto`, on the descriptor set the
//! build compiled: versioned package matching the directory, naming rules,
//! a comment on every element, and wire compatibility against
//! `proto/warden/v1/fields.lock` (no field renumbered, retyped, or removed
//! without reserving its number and name; no number reused).
//!
//! After adding a field, run with `WARDEN_PROTO_LOCK_UPDATE=1` to append it
//! to the lock file, and commit that.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use prost::Message as _;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};

fn descriptors() -> FileDescriptorSet {
    FileDescriptorSet::decode(warden_grpc::FILE_DESCRIPTOR_SET).expect("descriptor set")
}

fn ours(set: &FileDescriptorSet) -> Vec<&FileDescriptorProto> {
    set.file
        .iter()
        .filter(|f| f.name().starts_with("warden/"))
        .collect()
}

fn lock_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto/warden/v1/fields.lock")
}

/// `message.field` -> (number, "label type").
type Fields = BTreeMap<String, (i32, String)>;

fn field_type(field: &prost_types::FieldDescriptorProto) -> String {
    let label = if field.proto3_optional() {
        "optional"
    } else if field.label() == Label::Repeated {
        "repeated"
    } else {
        "singular"
    };
    let ty = match field.r#type() {
        Type::Message | Type::Enum => field.type_name().to_owned(),
        other => other
            .as_str_name()
            .trim_start_matches("TYPE_")
            .to_lowercase(),
    };
    format!("{label} {ty}")
}

fn fields_of(files: &[&FileDescriptorProto]) -> Fields {
    let mut fields = Fields::new();
    for file in files {
        for message in &file.message_type {
            for field in &message.field {
                let key = format!("{}.{}.{}", file.package(), message.name(), field.name());
                fields.insert(key, (field.number(), field_type(field)));
            }
        }
    }
    fields
}

fn parse_lock(text: &str) -> Fields {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let mut parts = line.splitn(3, ' ');
            let key = parts.next().expect("field").to_owned();
            let number = parts.next().expect("number").parse().expect("a number");
            let ty = parts.next().expect("type").to_owned();
            (key, (number, ty))
        })
        .collect()
}

fn is_reserved(message: &DescriptorProto, number: i32, name: &str) -> bool {
    let number_reserved = message
        .reserved_range
        .iter()
        .any(|r| (r.start()..r.end()).contains(&number));
    number_reserved && message.reserved_name.iter().any(|n| n == name)
}

fn is_snake(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && name.as_bytes()[0].is_ascii_lowercase()
}

fn is_pascal(name: &str) -> bool {
    name.as_bytes().first().is_some_and(u8::is_ascii_uppercase)
        && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Every violation, as a sentence.
fn lint(set: &FileDescriptorSet, lock: &Fields) -> Vec<String> {
    let files = ours(set);
    let mut problems = Vec::new();
    let mut messages: HashMap<String, &DescriptorProto> = HashMap::new();
    for file in &files {
        let package = file.package();
        let versioned = package.rsplit_once('.').is_some_and(|(_, v)| {
            v.len() > 1 && v.starts_with('v') && v[1..].bytes().all(|b| b.is_ascii_digit())
        });
        if !versioned {
            problems.push(format!(
                "{}: package {package:?} has no version suffix",
                file.name()
            ));
        }
        let dir = package.replace('.', "/");
        if file.name().rsplit_once('/').map(|(d, _)| d) != Some(dir.as_str()) {
            problems.push(format!("{}: not in directory {dir}/", file.name()));
        }
        let comments: HashMap<Vec<i32>, bool> = file
            .source_code_info
            .iter()
            .flat_map(|info| &info.location)
            .map(|l| (l.path.clone(), !l.leading_comments().trim().is_empty()))
            .collect();
        let commented = |path: Vec<i32>| comments.get(&path).copied().unwrap_or(false);
        for (m, message) in file.message_type.iter().enumerate() {
            messages.insert(format!("{package}.{}", message.name()), message);
            if !is_pascal(message.name()) {
                problems.push(format!("message {} is not PascalCase", message.name()));
            }
            if !commented(vec![4, m as i32]) {
                problems.push(format!("message {} has no comment", message.name()));
            }
            let mut numbers = HashMap::new();
            for (f, field) in message.field.iter().enumerate() {
                let name = format!("{}.{}", message.name(), field.name());
                if !is_snake(field.name()) {
                    problems.push(format!("field {name} is not lower_snake_case"));
                }
                if !commented(vec![4, m as i32, 2, f as i32]) {
                    problems.push(format!("field {name} has no comment"));
                }
                if let Some(other) = numbers.insert(field.number(), field.name()) {
                    problems.push(format!(
                        "field {name} reuses number {} of {other}",
                        field.number()
                    ));
                }
                if message
                    .reserved_range
                    .iter()
                    .any(|r| (r.start()..r.end()).contains(&field.number()))
                {
                    problems.push(format!(
                        "field {name} uses reserved number {}",
                        field.number()
                    ));
                }
                if message.reserved_name.iter().any(|n| n == field.name()) {
                    problems.push(format!("field {name} uses a reserved name"));
                }
            }
        }
        for (s, service) in file.service.iter().enumerate() {
            if !service.name().ends_with("Service") {
                problems.push(format!(
                    "service {} does not end in Service",
                    service.name()
                ));
            }
            if !commented(vec![6, s as i32]) {
                problems.push(format!("service {} has no comment", service.name()));
            }
            for (r, method) in service.method.iter().enumerate() {
                let rpc = method.name();
                if !commented(vec![6, s as i32, 2, r as i32]) {
                    problems.push(format!("rpc {rpc} has no comment"));
                }
                let input = format!(".{package}.{rpc}Request");
                let output = format!(".{package}.{rpc}Response");
                if method.input_type() != input || method.output_type() != output {
                    problems.push(format!("rpc {rpc} must take {input} and return {output}"));
                }
            }
        }
    }
    let current = fields_of(&files);
    for (key, (number, ty)) in lock {
        match current.get(key) {
            Some((n, t)) if n == number && t == ty => {}
            Some((n, t)) => problems.push(format!(
                "field {key} was {number} {ty}, is now {n} {t}: a wire-incompatible change"
            )),
            None => {
                let (message, field) = key.rsplit_once('.').expect("message.field");
                let reserved = messages
                    .get(message)
                    .is_some_and(|m| is_reserved(m, *number, field));
                if !reserved {
                    problems.push(format!(
                        "field {key} ({number}) was removed without `reserved {number}; reserved \"{field}\";`"
                    ));
                }
            }
        }
    }
    for (key, (number, ty)) in &current {
        if !lock.contains_key(key) {
            problems.push(format!(
                "new field, add to fields.lock: {key} {number} {ty}"
            ));
        }
    }
    problems
}

#[test]
fn the_proto_files_pass_lint_and_keep_wire_compatibility() {
    let set = descriptors();
    assert_eq!(ours(&set).len(), 2, "auth.proto and admin.proto");
    let lock_text = std::fs::read_to_string(lock_path()).unwrap_or_default();
    let mut lock = parse_lock(&lock_text);
    if std::env::var_os("WARDEN_PROTO_LOCK_UPDATE").is_some() {
        for (key, value) in fields_of(&ours(&set)) {
            lock.entry(key).or_insert(value);
        }
        let mut text = String::from(
            "# Every field ever published: `package.Message.field number label type`.\n\
             # Never edit a line; a removed field's number and name must be reserved.\n",
        );
        for (key, (number, ty)) in &lock {
            text.push_str(&format!("{key} {number} {ty}\n"));
        }
        std::fs::write(lock_path(), text).expect("write fields.lock");
    }
    let problems = lint(&set, &lock);
    assert!(problems.is_empty(), "proto lint:\n{}", problems.join("\n"));
}

fn user(set: &mut FileDescriptorSet) -> &mut DescriptorProto {
    set.file
        .iter_mut()
        .flat_map(|f| f.message_type.iter_mut())
        .find(|m| m.name() == "User")
        .expect("User")
}

#[test]
fn lint_catches_renumbering_reuse_and_unreserved_removal() {
    let set = descriptors();
    let lock = parse_lock(&std::fs::read_to_string(lock_path()).expect("fields.lock"));

    let mut renumbered = set.clone();
    user(&mut renumbered).field[1].number = Some(1);
    let problems = lint(&renumbered, &lock);
    assert!(
        problems.iter().any(|p| p.contains("reuses number 1")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("wire-incompatible")),
        "{problems:?}"
    );

    let mut removed = set.clone();
    user(&mut removed).field.remove(2);
    let problems = lint(&removed, &lock);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("User.username (3) was removed")),
        "{problems:?}"
    );
    let message = user(&mut removed);
    message
        .reserved_range
        .push(prost_types::descriptor_proto::ReservedRange {
            start: Some(3),
            end: Some(4),
        });
    message.reserved_name.push("username".into());
    assert!(
        lint(&removed, &lock).is_empty(),
        "a reserved removal is fine"
    );

    let mut unversioned = set.clone();
    unversioned
        .file
        .iter_mut()
        .find(|f| f.name().starts_with("warden/"))
        .unwrap()
        .package = Some("warden".into());
    assert!(
        lint(&unversioned, &lock)
            .iter()
            .any(|p| p.contains("no version suffix")),
    );
}
