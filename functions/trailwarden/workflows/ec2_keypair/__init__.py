"""ec2-keypair."""
