#[test]
fn scratch() {
    let text = std::fs::read_to_string("../../manifests/desired.yaml").unwrap();
    println!("{:?}", reconciler_core::manifest::parse("desired.yaml", &text).map(|_| ()));
    let bad = text.replace("  container_name: schwad\n", "  container_name: schwad\n  bogus: 1\n");
    println!("{}", reconciler_core::manifest::parse("desired.yaml", &bad).unwrap_err());
    let bad = text.replace("size_gib: 10", "size_gib: ten");
    println!("{}", reconciler_core::manifest::parse("desired.yaml", &bad).unwrap_err());
    let bad = text.replace("name: schwad-data", "name: Schwad_Data").replace("host_path: /mnt/schwad-data/bot", "host_path: /srv/bot").replace("SERVER_PORT", "API_TOKEN");
    println!("{}", reconciler_core::manifest::parse("desired.yaml", &bad).unwrap_err());
    println!("{}", reconciler_core::manifest::schema_json().len());
}
