"""The purge engine that the retention service and the purge worker share."""
