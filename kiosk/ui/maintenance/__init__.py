"""The technician's maintenance screens (Qt widgets) on top of :mod:`kiosk.maintenance`.

**English only.** These screens are for the operator's staff, trained on the kiosk and
reading its manual and its logs, which are English; the driver's languages stay with the
driver's pages. A driver's language chosen on the screen does not change them.

:class:`~kiosk.ui.maintenance.screen.MaintenanceScreen` (object name ``maintenance_screen``) is
one widget the main window shows in place of the driver's pages. It takes the
:class:`~kiosk.maintenance.mode.Maintenance` it works on explicitly (it never reaches for the
runtime's). Its pages, each with an object name, and every button with an object name and an
accessible name:

========================  ==================================================================
``mnt_login_page``        name (``mnt_tech_<name>``), PIN pad (``mnt_pin_<digit>``,
                          ``mnt_pin_back``, ``mnt_pin_ok``, dots only), code pad
                          (``mnt_code_*``), ``mnt_login_message``; ``mnt_cancel`` closes
``mnt_status_page``       a row per part (``mnt_status_<key>``), the audit log
                          (``mnt_audit_list``), ``mnt_nav_<page>``
``mnt_card_page``         ``mnt_card_start``, ``mnt_card_cancel``, ``mnt_card_result``
``mnt_charger_page``      per connector ``mnt_charger_enable_<id>``,
                          ``mnt_charger_disable_<id>``, ``mnt_current_down_<id>``,
                          ``mnt_current_<id>``, ``mnt_current_up_<id>``,
                          ``mnt_current_set_<id>``, ``mnt_charger_status_<id>``;
                          ``mnt_charger_message``
``mnt_config_page``       the tariff valid now, the config (``mnt_config_view``)
``mnt_updates_page``      ``mnt_update_apply_<n>`` (1, 2 …), ``mnt_update_rollback_config``,
                          ``mnt_update_rollback_tariff``, ``mnt_update_message``
``mnt_records_page``      ``mnt_upload_now``, ``mnt_export_batches``, ``mnt_export_logs``,
                          ``mnt_records_message``
``mnt_service_page``      ``mnt_service_state``, ``mnt_service_reason_<i>``,
                          ``mnt_service_off``, ``mnt_service_on``
``mnt_provisioning_page`` the terminal id, the key fingerprint, ``mnt_provisioning_qr``
========================  ==================================================================

Above the pages, on every page: ``mnt_title``, ``mnt_who``, ``mnt_idle_label`` (how long until
the mode closes untouched), ``mnt_nav_status`` (Back), ``mnt_logout``.

Drawn for every screen the kiosk supports (800x480 to 1920x1080, and 1080x1920 portrait): no
text cut off, every button at least the touch size, and only the long lists scroll (the
names, the audit log, the connectors, the config, the update bundles).
"""

from kiosk.ui.maintenance.screen import MaintenanceScreen

__all__ = ["MaintenanceScreen"]
