"""Routes of the embedded app: pages under `/app/`, JSON under `/app/api/`, images under
`/app/media/`. Included from the project's urlconf with the `app/` prefix."""

from django.urls import path

from wearview.studio import views

app_name = "studio_app"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("products", views.products, name="products"),
    path("products/generate", views.generate_form, name="generate"),
    path("review", views.review, name="review"),
    path("candidates/<int:candidate_id>/approve", views.approve_form, name="approve"),
    path("jobs/<int:job_id>/reject", views.reject_form, name="reject"),
    path("jobs/<int:job_id>/regenerate", views.regenerate_form, name="regenerate"),
    path("jobs/<int:job_id>/publish", views.publish_form, name="publish"),
    path("jobs/<int:job_id>/withdraw", views.withdraw_form, name="withdraw"),
    path("published", views.published, name="published"),
    path("settings", views.settings_page, name="settings"),
    path("bounce", views.bounce, name="bounce"),
    path("media/<str:token>", views.media, name="media"),
    path("api/overview", views.api_overview, name="api_overview"),
    path("api/products", views.api_products, name="api_products"),
    path("api/products/generate", views.api_generate, name="api_generate"),
    path("api/jobs", views.api_jobs, name="api_jobs"),
    path("api/jobs/<int:job_id>", views.api_job, name="api_job"),
    path("api/jobs/<int:job_id>/reject", views.api_reject, name="api_reject"),
    path("api/jobs/<int:job_id>/regenerate", views.api_regenerate, name="api_regenerate"),
    path("api/jobs/<int:job_id>/publish", views.api_publish, name="api_publish"),
    path("api/jobs/<int:job_id>/withdraw", views.api_withdraw, name="api_withdraw"),
    path("api/candidates/<int:candidate_id>/approve", views.api_approve, name="api_approve"),
    path("api/publications", views.api_publications, name="api_publications"),
    path("api/settings", views.api_settings, name="api_settings"),
]
