"""The online channel: documents to sign, the SMS gateway, the channel policy and demo keys."""
