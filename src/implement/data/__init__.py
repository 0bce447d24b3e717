"""World-model training data: collect, prepare (MetaICL samples), curate (chat JSONL), extract conditions."""
