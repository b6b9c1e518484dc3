//! The fixed regions, sizes and images the simulator knows, rendered as the API shows them.

use serde_json::{Value, json};

/// A region: slug and display name.
#[derive(Debug, Clone, Copy)]
pub struct Region {
    /// Slug, e.g. `nyc3`.
    pub slug: &'static str,
    /// Display name.
    pub name: &'static str,
}

/// A droplet size.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Slug, e.g. `s-1vcpu-1gb`.
    pub slug: &'static str,
    /// Memory in MiB.
    pub memory: u32,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Disk in GiB.
    pub disk: u32,
    /// Monthly price in USD.
    pub price_monthly: f64,
}

/// A public image.
#[derive(Debug, Clone, Copy)]
pub struct Image {
    pub id: u64,
    /// Slug, e.g. `docker-20-04`.
    pub slug: &'static str,
    /// Display name.
    pub name: &'static str,
    /// As DigitalOcean names it, e.g. `Ubuntu`.
    pub distribution: &'static str,
    /// Smallest disk it boots from, GiB.
    pub min_disk_size: u32,
}

/// Regions in which droplets and volumes can be created.
pub const REGIONS: &[Region] = &[
    Region {
        slug: "nyc1",
        name: "New York 1",
    },
    Region {
        slug: "nyc3",
        name: "New York 3",
    },
    Region {
        slug: "sfo3",
        name: "San Francisco 3",
    },
    Region {
        slug: "ams3",
        name: "Amsterdam 3",
    },
    Region {
        slug: "fra1",
        name: "Frankfurt 1",
    },
    Region {
        slug: "lon1",
        name: "London 1",
    },
    Region {
        slug: "sgp1",
        name: "Singapore 1",
    },
    Region {
        slug: "tor1",
        name: "Toronto 1",
    },
];

/// Droplet sizes.
pub const SIZES: &[Size] = &[
    Size {
        slug: "s-1vcpu-1gb",
        memory: 1024,
        vcpus: 1,
        disk: 25,
        price_monthly: 6.0,
    },
    Size {
        slug: "s-1vcpu-2gb",
        memory: 2048,
        vcpus: 1,
        disk: 50,
        price_monthly: 12.0,
    },
    Size {
        slug: "s-2vcpu-2gb",
        memory: 2048,
        vcpus: 2,
        disk: 60,
        price_monthly: 18.0,
    },
    Size {
        slug: "s-2vcpu-4gb",
        memory: 4096,
        vcpus: 2,
        disk: 80,
        price_monthly: 24.0,
    },
    Size {
        slug: "s-4vcpu-8gb",
        memory: 8192,
        vcpus: 4,
        disk: 160,
        price_monthly: 48.0,
    },
];

/// Public images; `docker-20-04` is the Docker 1-Click (Ubuntu 22.04 today).
pub const IMAGES: &[Image] = &[
    Image {
        id: 163_086_562,
        slug: "docker-20-04",
        name: "Docker on Ubuntu 22.04",
        distribution: "Ubuntu",
        min_disk_size: 25,
    },
    Image {
        id: 129_211_873,
        slug: "ubuntu-22-04-x64",
        name: "22.04 (LTS) x64",
        distribution: "Ubuntu",
        min_disk_size: 7,
    },
    Image {
        id: 155_133_621,
        slug: "ubuntu-24-04-x64",
        name: "24.04 (LTS) x64",
        distribution: "Ubuntu",
        min_disk_size: 7,
    },
    Image {
        id: 146_470_564,
        slug: "debian-12-x64",
        name: "12 x64",
        distribution: "Debian",
        min_disk_size: 15,
    },
];

/// Finds a region by slug.
pub fn region(slug: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.slug == slug)
}

/// Finds a size by slug.
pub fn size(slug: &str) -> Option<&'static Size> {
    SIZES.iter().find(|s| s.slug == slug)
}

/// Finds an image by slug or numeric id.
pub fn image(slug_or_id: &str) -> Option<&'static Image> {
    IMAGES
        .iter()
        .find(|i| i.slug == slug_or_id || i.id.to_string() == slug_or_id)
}

fn size_slugs() -> Vec<&'static str> {
    SIZES.iter().map(|s| s.slug).collect()
}

fn region_slugs() -> Vec<&'static str> {
    REGIONS.iter().map(|r| r.slug).collect()
}

/// The region object of `slug` (unknown slugs render as unavailable).
pub fn region_json(slug: &str) -> Value {
    let name = region(slug).map_or(slug, |r| r.name);
    json!({
        "name": name,
        "slug": slug,
        "features": ["backups", "ipv6", "metadata", "install_agent", "storage", "image_transfer"],
        "available": region(slug).is_some(),
        "sizes": size_slugs(),
    })
}

/// The size object.
pub fn size_json(size: &Size) -> Value {
    json!({
        "slug": size.slug,
        "memory": size.memory,
        "vcpus": size.vcpus,
        "disk": size.disk,
        "transfer": 1.0,
        "price_monthly": size.price_monthly,
        "price_hourly": (size.price_monthly / 672.0 * 100_000.0).round() / 100_000.0,
        "regions": region_slugs(),
        "available": true,
        "description": "Basic",
    })
}

/// The image object.
pub fn image_json(image: &Image) -> Value {
    json!({
        "id": image.id,
        "name": image.name,
        "type": "base",
        "distribution": image.distribution,
        "slug": image.slug,
        "public": true,
        "regions": region_slugs(),
        "created_at": "2024-06-01T00:00:00Z",
        "min_disk_size": image.min_disk_size,
        "size_gigabytes": 2.36,
        "description": image.name,
        "tags": [],
        "status": "available",
        "error_message": "",
    })
}
