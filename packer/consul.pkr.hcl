# Consul server image for consul-rollout: one AMI per Consul version, i.e. one rollout generation.
#
# A generation that declares {"ami": {"build": {...}}} in consul-rollout.config.json gets its
# variables from the stack (cdktf.out/stacks/<stack>/images/<generation>.pkrvars.json) and is
# built by `consul-rollout image build --generation <generation>`, which passes build_hash and
# finds an image already built for the same hash by the tags below instead of building it again.
# By hand:
#
#   packer init packer/
#   packer build -var consul_version=1.15.4 -var region=eu-west-1 packer/
#
# The manifest post-processor records the AMI per region in packer/manifest.json; a generation
# refers to it with {"ami": {"packerManifest": "packer/manifest.json"}} and the config loader
# checks the recorded consul_version against the generation's.

packer {
  required_version = ">= 1.9.4"
  required_plugins {
    amazon = {
      version = ">= 1.3.0"
      source  = "github.com/hashicorp/amazon"
    }
  }
}

variable "consul_version" {
  type        = string
  description = "Consul release to install, e.g. 1.15.4 (no leading v)."
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.consul_version))
    error_message = "The consul_version must look like 1.15.4 (no leading v)."
  }
}

variable "region" {
  type        = string
  description = "Region the image is built in."
  default     = "eu-west-1"
}

variable "ami_regions" {
  type        = list(string)
  description = "Further regions the finished AMI is copied to (each appears in the manifest's artifact_id)."
  default     = []
}

variable "instance_type" {
  type        = string
  description = "Instance type of the temporary build instance."
  default     = "t3.small"
}

variable "base_ami_name_filter" {
  type        = string
  description = "Name filter of the base image: Amazon Linux 2023 ships the AWS CLI that consul-fetch-secrets uses."
  default     = "al2023-ami-2023.*-x86_64"
}

variable "base_ami_owners" {
  type        = list(string)
  description = "Accounts allowed to own the base image."
  default     = ["amazon"]
}

variable "ssh_username" {
  type        = string
  description = "Login user of the base image."
  default     = "ec2-user"
}

variable "encrypt_boot" {
  type        = bool
  description = "Encrypt the AMI's root volume (the Raft data directory lives on it)."
  default     = true
}

variable "tags" {
  type        = map(string)
  description = "Extra tags on the AMI; the consul-rollout:* tags below always win."
  default     = {}
}

variable "build_hash" {
  type        = string
  description = "SHA-256 of this template's files and the image-shaping variables (consul-rollout image build computes it); empty for a build by hand."
  default     = ""
  validation {
    condition     = can(regex("^([0-9a-f]{64})?$", var.build_hash))
    error_message = "The build_hash must be 64 lowercase hex digits, or empty."
  }
}

variable "manifest_path" {
  type        = string
  description = "Where the manifest post-processor writes; empty means manifest.json next to this template."
  default     = ""
}

locals {
  build_time    = regex_replace(timestamp(), "[- TZ:]", "")
  ami_name      = "consul-${var.consul_version}-${local.build_time}"
  manifest_path = var.manifest_path != "" ? var.manifest_path : "${path.root}/manifest.json"
  staging_dir   = "/tmp/consul-rollout"
}

source "amazon-ebs" "consul" {
  region        = var.region
  ami_regions   = var.ami_regions
  instance_type = var.instance_type
  ssh_username  = var.ssh_username
  ami_name      = local.ami_name
  encrypt_boot  = var.encrypt_boot

  source_ami_filter {
    filters = {
      name                = var.base_ami_name_filter
      architecture        = "x86_64"
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    owners      = var.base_ami_owners
    most_recent = true
  }

  # Instances launched from the image refuse IMDSv1, like the launch templates do, and so does
  # the build instance.
  imds_support = "v2.0"
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  # consul-rollout image build finds an existing image by build hash and Consul version; the tags
  # go on every regional copy too (ami_regions).
  tags = merge(var.tags, {
    Name                            = local.ami_name
    "consul-rollout:consul-version" = var.consul_version
    "consul-rollout:build-hash"     = var.build_hash
    "consul-rollout:base-ami"       = "{{ .SourceAMI }}"
  })
}

build {
  name    = "consul"
  sources = ["source.amazon-ebs.consul"]

  provisioner "shell" {
    inline = ["mkdir -p ${local.staging_dir}"]
  }

  # Trailing slashes: upload the directories' contents, not the directories.
  provisioner "file" {
    source      = "${path.root}/files/"
    destination = "${local.staging_dir}/"
  }

  provisioner "file" {
    source      = "${path.root}/scripts/"
    destination = "${local.staging_dir}/"
  }

  provisioner "shell" {
    inline = [
      "sudo bash ${local.staging_dir}/install-consul.sh --version ${var.consul_version} --files ${local.staging_dir}",
      "rm -rf ${local.staging_dir}",
    ]
  }

  post-processor "manifest" {
    output     = local.manifest_path
    strip_path = true
    custom_data = {
      consul_version = var.consul_version
      build_hash     = var.build_hash
    }
  }
}
