"""What operates Prefect: server and worker processes, pools and queues, crash detection, deploy, trigger."""
