"""Connect catalog signals to the studio's tasks."""

from django.dispatch import receiver

from wearview.catalog.signals import products_deleted, products_synced


@receiver(products_synced, dispatch_uid="studio.products_synced")
def on_products_synced(sender, *, shop_id: int, product_ids: list[int], cause: str, **kwargs):
    from wearview.studio.tasks import process_synced_products_task

    if product_ids:
        process_synced_products_task.delay(shop_id, list(product_ids), cause)


@receiver(products_deleted, dispatch_uid="studio.products_deleted")
def on_products_deleted(sender, *, shop_id: int, product_ids: list[int], cause: str, **kwargs):
    from wearview.studio.tasks import cancel_product_jobs_task

    if product_ids:
        cancel_product_jobs_task.delay(shop_id, list(product_ids), "the product was deleted")
