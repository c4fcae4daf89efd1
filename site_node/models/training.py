"""Train a soft sensor on the site's stored spectra and lab values, and store its card."""

from __future__ import annotations

from neo4j import Driver

from bioprocess.models.pairing import paired_dataset
from bioprocess.models.softsensor import SoftSensorConfig, train_soft_sensor
from site_node.models.data import spectra_with_lab
from site_node.models.store import StoredModel, save_soft_sensor


def train_and_store(driver: Driver, target: str, *, process: str | None = None,
                    config: SoftSensorConfig | None = None, tolerance_h: float | None = None,
                    database: str | None = None) -> StoredModel:
    """Train on every batch of the process with spectra and ``target`` lab values; store
    the result as a new model version."""
    selection = spectra_with_lab(driver, target, process=process, database=database)
    data = paired_dataset(selection.batches, target=target, unit=selection.unit,
                          tolerance_h=tolerance_h)
    sensor = train_soft_sensor(data, config)
    return save_soft_sensor(driver, sensor, process=selection.process,
                            process_version=selection.process_version,
                            sponsor=selection.sponsor, database=database)
