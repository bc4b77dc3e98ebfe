"""Quotation handlers (kis-api.md §5, §6.3-6.4), one module per endpoint family: prices (current
price, daily prices, period chart), minutes, indices, rankings, calendar_days (the holiday
calendar) and overseas; common holds what the domestic ones share. Each handler takes a `Ctx` and
returns a `Reply`; refusals raise `KisReject`. Row caps and newest-first ordering follow the
workbook."""
