"""What runs a pipeline inside a flow run: flow, runner, execution strategies, memory policies, logs, summary."""
